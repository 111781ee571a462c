"""Task lists: a user's tasks in named lists, the default one made on first need."""
