from todo_cli.main import main

main()
