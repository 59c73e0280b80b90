// Stops the embedded PostgreSQL child that global-setup.mjs started, if it started one.
export default async function globalTeardown() {
  const child = globalThis.__KAGZI_EMBEDDED_CHILD__;
  if (!child) return;
  delete globalThis.__KAGZI_EMBEDDED_CHILD__;
  await child.stopServer();
}
