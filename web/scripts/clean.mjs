// `rm -rf` for npm scripts, without depending on a shell.
import { rmSync } from 'node:fs';

for (const path of process.argv.slice(2)) rmSync(path, { recursive: true, force: true });
