// The reference app's rollback, as `watch.rollback.run` in watch.yaml runs it: "deploys" the
// previous release by asking the app's control endpoint to serve it (in `npm run demo` the app runs
// inside the demo process, and its control endpoint clears the faults the faulty release brought).
// gonogo gives the releases as environment variables, never in the command's text:
//   $GONOGO_PREVIOUS        the release to return to (required: a rollback to nowhere is refused)
//   $GONOGO_RELEASE         the release being rolled back
//   $RECIPES_CONTROL_URL    the control endpoint's base URL, on loopback only (set by the demo)
// Exit 0 once the control endpoint says the previous release is deployed; 1 when it refuses or
// does not answer in time; 2 when the variables are missing or wrong. One request, bounded.
const TIMEOUT_MS = 10_000;

function refuse(message) {
  console.error(`rollback: ${message}`);
  process.exit(2);
}

const previous = process.env.GONOGO_PREVIOUS ?? '';
const release = process.env.GONOGO_RELEASE ?? '';
const control = process.env.RECIPES_CONTROL_URL ?? '';
if (previous === '') refuse('$GONOGO_PREVIOUS is empty: no release to return to (gonogo watch --previous ID)');
if (control === '') refuse('$RECIPES_CONTROL_URL is not set: where is the control endpoint? (npm run demo sets it)');
let base;
try {
  base = new URL(control);
} catch {
  refuse(`$RECIPES_CONTROL_URL is not a URL: ${control}`);
}
// The control endpoint of a demo runs on this machine: nothing is sent anywhere else.
if (base.protocol !== 'http:' || !['127.0.0.1', 'localhost', '[::1]'].includes(base.hostname)) {
  refuse(`$RECIPES_CONTROL_URL must be http on loopback (127.0.0.1, localhost, [::1]), got ${base.origin}`);
}

const url = new URL('/deploy', base);
console.log(`rollback: ${release || '(unknown release)'} -> ${previous}: POST ${url.href}`);
try {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ release: previous, rollingBack: release }),
    redirect: 'error',
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  const text = (await res.text()).slice(0, 500);
  if (!res.ok) {
    console.error(`rollback: the control endpoint answered ${res.status}: ${text}`);
    process.exit(1);
  }
  console.log(`rollback: ${previous} is deployed (${res.status}: ${text})`);
} catch (err) {
  // fetch reports a refused connection as "fetch failed" with the reason in `cause`.
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err;
  const reason = err instanceof Error && err.name === 'TimeoutError' ? `no answer within ${TIMEOUT_MS / 1000} s` : cause instanceof Error ? cause.message : String(cause);
  console.error(`rollback: the control endpoint could not be reached: ${reason}`);
  process.exit(1);
}
