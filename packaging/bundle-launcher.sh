#!/bin/sh
# /usr/bin/postjoin where the host has Node.js instead of the single executable (the postjoin-node RPM, or
# install.sh given the bundle). It runs the bundle with the first supported Node it finds.
# Why not a `#!/usr/bin/env node` shebang on the bundle: AL2023's nodejs22 and nodejs20 install
# /usr/bin/node-22 and /usr/bin/node-20, and /usr/bin/node exists only if the alternatives system points it
# at one of them (or at an older Node), so `node` may be missing or too old.
# @LIBEXECDIR@ is replaced at install time.
bundle=@LIBEXECDIR@/postjoin/postjoin.cjs

for node in /usr/bin/node-22 /usr/bin/node-24 /usr/bin/node-20; do
  if [ -x "$node" ]; then exec "$node" "$bundle" "$@"; fi
done

# Any other Node on PATH, if it is 20 or newer (the bundle targets Node 20).
if command -v node >/dev/null 2>&1; then
  major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  if [ "$major" -ge 20 ] 2>/dev/null; then exec node "$bundle" "$@"; fi
fi

echo "postjoin: no Node.js 20 or newer found (looked for /usr/bin/node-22, node-24, node-20 and node on PATH); install nodejs22: dnf install -y nodejs22" >&2
# 2 is postjoin's "invalid input" exit: no task was started.
exit 2
