// What a front end writes against the generated types: `tsc --noEmit` must accept it as is.
// Each call is one the service accepts; a type error here means the published request
// schemas and the service disagree (.ci/run runs this check).
import createClient from "openapi-fetch";

import type { components, paths } from "./generated/schema";

type TaskRead = components["schemas"]["TaskRead"];

export function todoClient(baseUrl: string, token: string) {
  return createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${token}` } });
}

type TodoClient = ReturnType<typeof todoClient>;

export async function createWithOnlyATitle(client: TodoClient): Promise<TaskRead> {
  const { data, error } = await client.POST("/tasks", { body: { title: "Buy milk" } });
  if (error !== undefined) throw new Error(error.detail);
  // Response fields are all required: no `?` to test before use.
  const priority: "none" | "low" | "medium" | "high" = data.priority;
  const tags: string[] = data.tags;
  console.log(priority, tags.length, data.etag);
  return data;
}

export async function replaceWithOnlyATitle(client: TodoClient, task: TaskRead): Promise<TaskRead> {
  const { data, error } = await client.PUT("/tasks/{task_id}", {
    params: { path: { task_id: task.id } },
    body: { title: "Buy oat milk" },
  });
  if (error !== undefined) throw new Error(error.detail);
  return data;
}

export async function openErrands(client: TodoClient): Promise<TaskRead[]> {
  const tasks: TaskRead[] = [];
  let cursor: string | undefined;
  do {
    const query = { completed: false, tag: ["errands", "home"] };
    const { data, error } = await client.GET("/tasks", {
      params: { query: cursor === undefined ? query : { ...query, cursor } },
    });
    if (error !== undefined) throw new Error(error.detail);
    tasks.push(...data.items);
    cursor = data.next_cursor ?? undefined;
  } while (cursor !== undefined);
  return tasks;
}

export async function completeUnlessChanged(client: TodoClient, task: TaskRead): Promise<TaskRead | null> {
  const { data, error, response } = await client.PATCH("/tasks/{task_id}", {
    params: { path: { task_id: task.id }, header: { "If-Match": task.etag } },
    body: { completed: true },
  });
  if (response.status === 412) return null; // changed elsewhere: read it again
  if (error !== undefined) throw new Error(error.detail);
  return data;
}

export async function catchUp(
  client: TodoClient,
  replica: Map<string, TaskRead>,
  since: string | undefined,
): Promise<string> {
  let token = since;
  for (;;) {
    const { data, error } = await client.GET("/tasks/changes", {
      params: { query: token === undefined ? {} : { since: token } },
    });
    if (error !== undefined) throw new Error(error.detail);
    for (const task of data.tasks) replica.set(task.id, task);
    for (const id of data.deleted) replica.delete(id);
    token = data.next_since;
    if (!data.has_more) return token;
  }
}
