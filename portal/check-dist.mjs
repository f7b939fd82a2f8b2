// Rebuilds dist/ and fails when it differs from what git has: changed or
// deleted files (git diff, against the index) and new files git does not
// track (a rebuilt bundle gets a new content-hashed name, which a plain
// git diff would not show). Run by `npm run check-dist` and `make test`.
import { execFileSync } from "node:child_process";

execFileSync("npm", ["run", "build"], { stdio: "inherit" });
const git = (...args) => execFileSync("git", args, { encoding: "utf8" });
// dist/ and the generated GraphQL types (src/gql/, from codegen.ts).
const changed = git("diff", "--name-status", "--", "dist", "src/gql");
const untracked = git("ls-files", "--others", "--exclude-standard", "--", "dist", "src/gql");
if (changed.trim() !== "" || untracked.trim() !== "") {
  console.error("portal/dist or src/gql is not what `npm ci && npm run build` makes of portal/src: commit the rebuilt dist/ and src/gql/.");
  if (changed.trim()) console.error("changed or deleted:\n" + changed);
  if (untracked.trim()) console.error("not tracked by git:\n" + untracked);
  process.exit(1);
}
console.log("portal/dist is current");
