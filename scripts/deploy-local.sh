#!/usr/bin/env bash
# `npm run deploy:local`: starts the patched emulator on 127.0.0.1:${AMI_BUILDER_EMULATOR_PORT:-4620} (unless one
# already answers there), then bootstraps and deploys the stack into it with the stock CDK CLI. The emulator keeps
# running afterwards; its pid is in .tmp/emulator.pid. Extra arguments go to `cdk deploy` (e.g. -c key=value).
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${AMI_BUILDER_EMULATOR_PORT:-4620}"
E="http://127.0.0.1:${PORT}"
PYTHON_BIN="$(bash emulator/ensure-moto.sh --print-python)"
mkdir -p .tmp
if ! curl -fsS -o /dev/null "${E}/_ami-builder/faults" 2>/dev/null; then
  echo "== starting the emulator at ${E} (log: .tmp/emulator.log)"
  nohup "$PYTHON_BIN" emulator/launcher.py --port "$PORT" --quiet >.tmp/emulator.log 2>&1 &
  echo $! >.tmp/emulator.pid
  for _ in $(seq 1 60); do curl -fsS -o /dev/null "${E}/_ami-builder/faults" 2>/dev/null && break; sleep 0.5; done
fi
export AWS_ENDPOINT_URL="$E" AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 \
  CDK_DEFAULT_ACCOUNT=123456789012 CDK_DEFAULT_REGION=us-east-1 CDK_DISABLE_CLI_TELEMETRY=true \
  CDK_DISABLE_VERSION_CHECK=true AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true
npx cdk bootstrap aws://123456789012/us-east-1 --no-notices
# --method=direct: moto's change sets never reach a final status, so the default method would wait for ever.
npx cdk deploy --method=direct --require-approval never --no-notices "$@"
echo "== deployed into ${E}; stop the emulator with: kill \$(cat .tmp/emulator.pid)"
