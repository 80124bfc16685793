// The real `openai` npm client against a running `hearth serve` (stories260K): models list,
// chat (whole and streamed) and completions (whole and streamed).
// usage: node openai_client_test.mjs HEARTH_BIN MODEL_GGUF PLUGIN_DIR NPM_DIR
// Exits 77 (skipped) when the npm packages are not installed.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import assert from 'node:assert/strict';

const [hearth, modelFile, pluginDir, npmDir] = process.argv.slice(2);
if (!existsSync(join(npmDir, 'node_modules', 'openai'))) {
  console.log(`skipped: ${npmDir}/node_modules/openai is missing (run ci/install-deps.sh)`);
  process.exit(77);
}
const require = createRequire(resolve(npmDir, 'package.json'));
const imported = await import(pathToFileURL(require.resolve('openai')).href);
const OpenAI = imported.OpenAI ?? imported.default?.OpenAI ?? imported.default;

// Start the server on a free port and read the port from its banner.
const server = spawn(hearth, ['serve', '-m', modelFile, '--plugin-path', pluginDir, '--port', '0',
                              '--ctx-size', '256', '--api-key', 'test-key', '--seed', '7'],
                     { stdio: ['ignore', 'ignore', 'pipe'] });
let log = '';
const port = await new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error(`no banner from hearth serve:\n${log}`)), 30000);
  server.stderr.on('data', (d) => {
    log += d;
    const m = log.match(/on http:\/\/127\.0\.0\.1:(\d+)/);
    if (m) { clearTimeout(timer); resolve(Number(m[1])); }
  });
  server.on('exit', (code) => reject(new Error(`hearth serve exited (${code}):\n${log}`)));
});

let failed = false;
try {
  const client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: 'test-key', maxRetries: 0 });

  const models = await client.models.list();
  assert.deepEqual(models.data.map((m) => m.id), ['stories260K']);

  const messages = [{ role: 'user', content: 'Tell me a story.' }];
  const chat = await client.chat.completions.create({ model: 'stories260K', messages, temperature: 0, max_tokens: 30 });
  assert.equal(chat.object, 'chat.completion');
  assert.equal(chat.choices[0].message.role, 'assistant');
  assert.ok(chat.choices[0].message.content.length > 0);
  assert.ok(['stop', 'length'].includes(chat.choices[0].finish_reason));
  assert.equal(chat.usage.total_tokens, chat.usage.prompt_tokens + chat.usage.completion_tokens);

  const stream = await client.chat.completions.create({
    model: 'stories260K', messages, temperature: 0, max_tokens: 30, stream: true,
    stream_options: { include_usage: true } });
  let streamed = '';
  let usage = null;
  for await (const chunk of stream) {
    if (chunk.choices.length > 0) streamed += chunk.choices[0].delta.content ?? '';
    if (chunk.usage) usage = chunk.usage;
  }
  assert.equal(streamed, chat.choices[0].message.content);
  assert.deepEqual(usage, chat.usage);

  const completion = await client.completions.create({ model: 'stories260K', prompt: 'Once upon a time', temperature: 0, max_tokens: 30 });
  assert.equal(completion.object, 'text_completion');
  const cstream = await client.completions.create({ model: 'stories260K', prompt: 'Once upon a time', temperature: 0, max_tokens: 30, stream: true });
  let ctext = '';
  for await (const chunk of cstream) ctext += chunk.choices[0].text;
  assert.equal(ctext, completion.choices[0].text);

  // Errors arrive as the SDK's typed errors.
  await assert.rejects(client.chat.completions.create({ model: 'gpt-4o', messages }),
                       (e) => e.status === 404 && /stories260K/.test(e.message));
  const stranger = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: 'wrong', maxRetries: 0 });
  await assert.rejects(stranger.models.list(), (e) => e.status === 401);
  console.log('openai client: models, chat, chat stream, completions, completion stream, errors: ok');
} catch (e) {
  failed = true;
  console.error(e);
  console.error(log);
} finally {
  server.kill('SIGTERM');
}
process.exit(failed ? 1 : 0);
