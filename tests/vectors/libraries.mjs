// The npm side of scripts/provider-vectors: reads a JSON list of operations
// on stdin, answers a JSON list of results on stdout, in the same order.
// Each operation calls a provider's own library:
//   {"op": "github_sign", "secret", "body"}                  -> "sha256=<hex>"
//   {"op": "linear_verify", "secret", "body", "signature"}   -> true, or the library's error
import { sign } from "@octokit/webhooks-methods";
import { LinearWebhookClient } from "@linear/sdk/webhooks";

const operations = {
  github_sign: ({ secret, body }) => sign(secret, body),
  linear_verify: ({ secret, body, signature }) => {
    try {
      return new LinearWebhookClient(secret).verify(Buffer.from(body, "utf8"), signature);
    } catch (error) {
      return String(error.message);
    }
  },
};

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const results = [];
for (const request of JSON.parse(Buffer.concat(chunks).toString("utf8"))) {
  const operation = operations[request.op];
  if (!operation) throw new Error(`unknown operation ${request.op}`);
  results.push(await operation(request));
}
process.stdout.write(JSON.stringify(results));
