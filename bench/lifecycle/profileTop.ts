import { readFileSync } from 'node:fs';

/**
 * `node dist/bench/lifecycle/profileTop.js <file.cpuprofile>…`: the top self-time functions and packages of V8 CPU
 * profiles (as written by `npm run bench:lifecycle -- --cpu-prof`), so that a run's hot spots read in a terminal.
 */

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** The package (or project directory) a script belongs to. */
function owner(url: string): string {
  if (url === '') return '(native / idle / gc)';
  const inModules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (inModules) return inModules[1]!;
  const webpack = /webpack:\/\/.*?\/((?:src|node_modules)\/[^/]+(?:\/[^/]+)?)/.exec(url);
  if (webpack) return `bundle: ${webpack[1]}`;
  const project = /\/(src|bench)\/(.*?)\/[^/]+$/.exec(url);
  return project ? `${project[1]}/${project[2]}` : url.replace(/^.*\//, '');
}

export function summarize(file: string, top = 15): string[] {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfMs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfMs.set(id, (selfMs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000));
  const total = [...selfMs.values()].reduce((a, b) => a + b, 0);
  const add = (map: Map<string, number>, key: string, ms: number) => map.set(key, (map.get(key) ?? 0) + ms);
  const functions = new Map<string, number>();
  const owners = new Map<string, number>();
  for (const [id, ms] of selfMs) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    if (functionName === '(idle)') continue;
    add(functions, `${functionName || '(anonymous)'}  ${owner(url)}:${lineNumber + 1}`, ms);
    add(owners, functionName.startsWith('(') ? functionName : owner(url), ms);
  }
  const lines = [`${file}: ${(total / 1000).toFixed(1)} s sampled (idle included)`];
  const list = (title: string, map: Map<string, number>) => {
    lines.push(title);
    for (const [key, ms] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) {
      lines.push(`  ${ms.toFixed(0).padStart(8)} ms  ${key}`);
    }
  };
  list('by package', owners);
  list('by function (self time)', functions);
  return lines;
}

if (require.main === module) {
  for (const file of process.argv.slice(2)) console.log(summarize(file).join('\n'));
}
