// Real traffic with @notionhq/client (the official SDK for JavaScript), for
// tests/test_proxy_node.py: node traffic.mjs BASE_URL DATABASE_ID CLIENTS
// (the token comes in NOTION_TOKEN). Prints one JSON object: what each call answered, and
// how many of CLIENTS concurrent clients got every one of their three answers.
import { Client } from "@notionhq/client";

const [baseUrl, databaseId, clients] = process.argv.slice(2);
const auth = process.env.NOTION_TOKEN;
const notion = new Client({ auth, baseUrl, notionVersion: "2022-06-28" });

const answers = {
  me: await notion.users.me({}),
  database: await notion.databases.retrieve({ database_id: databaseId }),
  query: await notion.request({
    path: `databases/${databaseId}/query`, method: "post", body: { page_size: 2 },
  }),
};
let missing = null;
try {
  await notion.databases.retrieve({ database_id: "00000000-0000-0000-0000-000000000000" });
} catch (error) {
  missing = { status: error.status, code: error.code, body: error.body };
}
answers.missing = missing;

async function oneClient() {
  const own = new Client({ auth, baseUrl, notionVersion: "2022-06-28", retry: false });
  const objects = [];
  for (let i = 0; i < 3; i += 1) objects.push((await own.users.me({})).object);
  return objects.every((o) => o === "user");
}
const done = await Promise.all(Array.from({ length: Number(clients) }, oneClient));
answers.clientsAnswered = done.filter(Boolean).length;
process.stdout.write(JSON.stringify(answers));
