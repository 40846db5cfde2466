import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { generateKey } from '../../src/note.js';
import { CLI, closedUrl, run } from './helpers.js';

const VKEY = generateKey('cli.example/log').verifierKey;

/** Every command and the options its --help must explain. */
const COMMANDS: [string[], string[]][] = [
  [['init'], ['--data', '--origin', '--json']],
  [
    ['serve'],
    [
      '--data',
      '--port',
      '--host',
      '--init',
      '--origin',
      '--max-batch',
      '--max-wait-ms',
      '--max-pending-commits',
    ],
  ],
  [
    ['token', 'add'],
    ['--data', '--json'],
  ],
  [
    ['append'],
    ['--url', '--token', '--vkey', '--batch-size', '--concurrency', '--json', '--progress'],
  ],
  [['checkpoint'], ['--vkey', '--json']],
  [
    ['verify', 'inclusion'],
    ['--url', '--index', '--tree-size', '--proof', '--entry', '--entry-base64', '--vkey', '--json'],
  ],
  [
    ['verify', 'consistency'],
    ['--url', '--old', '--new', '--old-checkpoint', '--checkpoint', '--proof', '--vkey', '--json'],
  ],
  [['get'], ['--url', '--vkey', '--json', '--proof-out', '--entry-out']],
  [
    ['search'],
    [
      '--url',
      '--kid',
      '--iss',
      '--aud',
      '--key-domain',
      '--tenant',
      '--rp',
      '--decision',
      '--since',
      '--until',
      '--limit',
      '--all',
      '--format',
      '--json',
    ],
  ],
];

describe('declog --help', () => {
  it.each(COMMANDS)('%s explains its options', async (command, options) => {
    const r = await run([...command, '--help']);
    expect(r.code).toBe(0);
    for (const option of options) expect(r.stdout).toMatch(new RegExp(`^  ${option}\\b`, 'm'));
  });

  it('defaults and units', async () => {
    // Commander wraps help at 80 columns, so compare with runs of spaces and newlines joined.
    const help = async (args: string[]) => (await run(args)).stdout.replace(/\s+/g, ' ');
    const serve = await help(['serve', '--help']);
    expect(serve).toContain('(default: 8080)');
    expect(serve).toContain('(default: "127.0.0.1")');
    expect(serve).toMatch(/--max-wait-ms .*milliseconds/);
    expect(serve).toMatch(/--max-pending-commits .*\(default: 2\)/);
    const append = await help(['append', '--help']);
    expect(append).toContain('(default: 100)');
    expect(append).toContain('$DECLOG_TOKEN');
    expect(append).toContain('http://127.0.0.1:8080');
    const search = await help(['search', '--help']);
    expect(search).toContain('(default: "table")');
  });

  it('lists exit codes', async () => {
    const r = await run(['--help']);
    expect(r.stdout).toContain('3  network or server error');
  });
});

describe('usage errors', () => {
  const cases: [string, string[]][] = [
    ['unknown command', ['bogus']],
    ['unknown option', ['init', '--colour']],
    ['bad number', ['get', 'ten']],
    ['leading zero', ['verify', 'inclusion', '--index', '007', '--vkey', VKEY]],
    ['missing vkey', ['checkpoint']],
    ['no verify mode', ['verify', 'inclusion', '--vkey', VKEY]],
    ['mixed verify modes', ['verify', 'inclusion', '--index', '1', '--proof', 'p', '--vkey', VKEY]],
    ['partial offline files', ['verify', 'consistency', '--proof', 'p', '--vkey', VKEY]],
    ['bad format', ['search', '--format', 'xml']],
    [
      'missing proof file',
      [
        'verify',
        'inclusion',
        '--proof',
        '/nonexistent/p',
        '--entry-base64',
        'AA==',
        '--vkey',
        VKEY,
      ],
    ],
    ['bad vkey file', ['checkpoint', '--vkey', '@/nonexistent/log.pub']],
    ['no pending commits', ['serve', '--max-pending-commits', '0', '--data', '/nonexistent']],
  ];

  it.each(cases)('%s exits 2', async (_name, args) => {
    const r = await run(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^declog: [^\n]+\n$/);
  });
});

describe('network errors', () => {
  it('unreachable server exits 3', async () => {
    const url = await closedUrl();
    const commands = [
      ['checkpoint', url, '--vkey', VKEY],
      ['get', '0', '--url', url],
      ['search', '--url', url],
      ['verify', 'inclusion', '--index', '0', '--url', url, '--vkey', VKEY],
      ['append', '-', '--url', url, '--token', 'declog_x', '--vkey', VKEY],
    ];
    for (const args of commands) {
      const input =
        args[0] === 'append'
          ? '{"id":"a","time":1,"decision":"accept","reason":"ok","iss":"i","aud":"a","key_domain":"d","kid":"k","rp":"r"}\n'
          : '';
      const r = await run(args, { input });
      expect(r.code, args.join(' ')).toBe(3);
      expect(r.stderr).toMatch(new RegExp(`^declog: [^\\n]*${url}[^\\n]*\\n$`));
    }
  });

  it('DECLOG_URL default', async () => {
    const url = await closedUrl();
    const r = await run(['get', '0'], { env: { DECLOG_URL: url } });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(url);
  });

  it('help into a closed pipe exits quietly', () => {
    // head reads one line and closes the pipe while declog still writes.
    const piped = spawnSync('sh', ['-c', `"${process.execPath}" "${CLI}" --help | head -n 1`], {
      encoding: 'utf8',
    });
    expect(piped.stdout).toMatch(/^Usage: declog/);
    expect(piped.stderr).not.toMatch(/EPIPE/);
  });
});
