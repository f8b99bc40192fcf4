// Unit tests for the Go text/template implementation used by --format and inspect -f.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  HEADER_FUNCTIONS,
  TemplateError,
  compileTemplate,
  goSprintf,
  isTableFormat,
  prepareFormat,
  renderTemplate,
  stripTable,
} from '../../src/cli/template.js';

const container = {
  Id: '4c01db0b339c1d7f0e3e5c8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c',
  Created: '2024-05-06T07:08:09.123456789Z',
  Path: 'nginx',
  Args: ['-g', 'daemon off;'],
  Name: '/web',
  RestartCount: 0,
  State: { Status: 'running', Running: true, Paused: false, Pid: 4242, ExitCode: 0, Health: null, StartedAt: '2024-05-06T07:08:10Z' },
  Config: {
    Hostname: '4c01db0b339c',
    Env: ['PATH=/usr/local/sbin:/usr/local/bin', 'NGINX_VERSION=1.25.5'],
    Cmd: ['nginx', '-g', 'daemon off;'],
    Entrypoint: null,
    Labels: { 'com.example.vendor': 'ACME', 'com.docker.compose.project': 'site' },
    ExposedPorts: { '80/tcp': {} },
    Image: 'nginx:latest',
  },
  HostConfig: { Memory: 536870912, NanoCpus: 1500000000, Binds: null, RestartPolicy: { Name: 'no', MaximumRetryCount: 0 } },
  NetworkSettings: {
    IPAddress: '172.17.0.2',
    Ports: { '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8080' }, { HostIp: '::', HostPort: '8080' }], '443/tcp': null },
    Networks: { bridge: { IPAddress: '172.17.0.2', Gateway: '172.17.0.1' }, backend: { IPAddress: '10.0.0.5', Gateway: '10.0.0.1' } },
  },
  Mounts: [] as unknown[],
};

const render = (source: string, data: unknown = container): string => renderTemplate(source, data);

describe('fields and printing', () => {
  it('walks field chains on maps', () => {
    assert.equal(render('{{.Name}}'), '/web');
    assert.equal(render('{{.State.Status}}'), 'running');
    assert.equal(render('{{.NetworkSettings.Networks.bridge.IPAddress}}'), '172.17.0.2');
    assert.equal(render('{{.Config.Labels.missing}}'), '<no value>');
  });

  it('prints values like Go fmt %v', () => {
    assert.equal(render('{{.State.Pid}}'), '4242');
    assert.equal(render('{{.HostConfig.Memory}}'), '536870912');
    assert.equal(render('{{.State.Running}}'), 'true');
    assert.equal(render('{{.Args}}'), '[-g daemon off;]');
    assert.equal(render('{{.Mounts}}'), '[]');
    assert.equal(render('{{.Config.Labels}}'), 'map[com.docker.compose.project:site com.example.vendor:ACME]');
    assert.equal(render('{{.HostConfig.RestartPolicy}}'), 'map[MaximumRetryCount:0 Name:no]');
    assert.equal(render('{{.Config.ExposedPorts}}'), 'map[80/tcp:map[]]');
    assert.equal(render('{{.}}', { a: [1, null, 'x', true, 1.5] }), 'map[a:[1 <nil> x true 1.5]]');
    assert.equal(render('{{.}}', 9007199254740993), '9007199254740992');
    assert.equal(render('{{.}}', 1e21), '1000000000000000000000');
    assert.equal(render('{{.}}', 0.000015), '1.5e-05');
  });

  it('prints <nil> for null and <no value> for a missing key', () => {
    assert.equal(render('{{.State.Health}}'), '<nil>');
    assert.equal(render('{{.Config.Entrypoint}}'), '<nil>');
    assert.equal(render('{{.Nope}}'), '<no value>');
    assert.equal(render('{{.Nope.Deeper}}'), '<no value>');
  });

  it('supports . and $', () => {
    assert.equal(render('{{.}}', 'hello'), 'hello');
    assert.equal(render('{{with .State}}{{$.Name}} {{.Status}}{{end}}'), '/web running');
    assert.equal(render('{{$}}', 5), '5');
  });

  it('passes text through and handles an empty template', () => {
    assert.equal(render('plain text'), 'plain text');
    assert.equal(render(''), '');
    assert.equal(render('a } b { c }}'), 'a } b { c }}');
  });

  it('supports chains on parenthesized pipelines and variables', () => {
    assert.equal(render('{{(index .NetworkSettings.Ports "80/tcp" 0).HostPort}}'), '8080');
    assert.equal(render('{{$n := .NetworkSettings}}{{$n.Networks.backend.Gateway}}'), '10.0.0.1');
  });
});

describe('trimming and comments', () => {
  it('trims whitespace around {{- and -}}', () => {
    assert.equal(render('a  \n {{- .Name -}} \n\t b'), 'a/webb');
    assert.equal(render('{{.Name}}  {{- "x"}}'), '/webx');
    assert.equal(render('{{- 3}}'), '3');
    assert.equal(render('{{-3}}'), '-3');
  });

  it('drops comments', () => {
    assert.equal(render('a {{/* a comment */}} b'), 'a  b');
    assert.equal(render('a {{- /* trimmed */ -}} b'), 'ab');
    assert.throws(() => render('{{/* x */ .Name}}'), new TemplateError('template: :1: comment ends before closing delimiter'));
    assert.throws(() => render('{{/* x '), new TemplateError('template: :1: unclosed comment'));
  });
});

describe('control structures', () => {
  it('if / else if / else', () => {
    const source = '{{if eq .State.Status "exited"}}E{{else if .State.Running}}R{{else}}?{{end}}';
    assert.equal(render(source), 'R');
    assert.equal(render(source, { State: { Status: 'exited' } }), 'E');
    assert.equal(render(source, { State: { Status: 'created', Running: false } }), '?');
  });

  it('uses Go truthiness', () => {
    const truth = (value: unknown): string => render('{{if .}}T{{else}}F{{end}}', value);
    assert.equal(truth(0), 'F');
    assert.equal(truth(1), 'T');
    assert.equal(truth(''), 'F');
    assert.equal(truth('x'), 'T');
    assert.equal(truth([]), 'F');
    assert.equal(truth([0]), 'T');
    assert.equal(truth({}), 'F');
    assert.equal(truth({ a: 1 }), 'T');
    assert.equal(truth(null), 'F');
    assert.equal(truth(false), 'F');
    assert.equal(render('{{if .Missing}}T{{else}}F{{end}}'), 'F');
  });

  it('with sets dot and has else / else with', () => {
    assert.equal(render('{{with .State}}{{.Pid}}{{end}}'), '4242');
    assert.equal(render('{{with .State.Health}}{{.Status}}{{else}}no healthcheck{{end}}'), 'no healthcheck');
    assert.equal(render('{{with .Nope}}a{{else with .Name}}{{.}}{{end}}'), '/web');
  });

  it('range over lists, maps (sorted keys) and integers', () => {
    assert.equal(render('{{range .Config.Cmd}}[{{.}}]{{end}}'), '[nginx][-g][daemon off;]');
    assert.equal(render('{{range $i, $a := .Args}}{{$i}}={{$a}}|{{end}}'), '0=-g|1=daemon off;|');
    assert.equal(render('{{range $a := .Args}}{{$a}}|{{end}}'), '-g|daemon off;|');
    assert.equal(render('{{range $k, $v := .Config.Labels}}{{$k}}={{$v}}\n{{end}}'), 'com.docker.compose.project=site\ncom.example.vendor=ACME\n');
    assert.equal(render('{{range $name, $net := .NetworkSettings.Networks}}{{$name}}:{{$net.IPAddress}} {{end}}'), 'backend:10.0.0.5 bridge:172.17.0.2 ');
    assert.equal(render('{{range 3}}{{.}}{{end}}'), '012');
  });

  it('range else runs for empty, null and missing collections', () => {
    assert.equal(render('{{range .Mounts}}m{{else}}no mounts{{end}}'), 'no mounts');
    assert.equal(render('{{range .HostConfig.Binds}}b{{else}}none{{end}}'), 'none');
    assert.equal(render('{{range .Nope}}b{{else}}none{{end}}'), 'none');
  });

  it('range with break and continue', () => {
    assert.equal(render('{{range .Config.Cmd}}{{if eq . "-g"}}{{continue}}{{end}}{{.}},{{end}}'), 'nginx,daemon off;,');
    assert.equal(render('{{range .Config.Cmd}}{{if eq . "-g"}}{{break}}{{end}}{{.}},{{end}}'), 'nginx,');
  });

  it('docker inspect port-mapping idiom', () => {
    const source = '{{range $p, $conf := .NetworkSettings.Ports}}{{if $conf}}{{$p}} -> {{(index $conf 0).HostPort}}\n{{end}}{{end}}';
    assert.equal(render(source), '80/tcp -> 8080\n');
  });

  it('variables: declaration, assignment and scoping', () => {
    assert.equal(render('{{$x := .Name}}{{$x}}'), '/web');
    assert.equal(render('{{$x := 1}}{{if true}}{{$x = 2}}{{end}}{{$x}}'), '2');
    assert.equal(render('{{$x := 1}}{{if true}}{{$x := 2}}{{$x}}{{end}}{{$x}}'), '21');
    assert.equal(render('{{$first := ""}}{{range .Args}}{{if not $first}}{{$first = .}}{{end}}{{end}}{{$first}}'), '-g');
    assert.throws(() => render('{{if true}}{{$y := 1}}{{end}}{{$y}}'), new TemplateError('template: :1: undefined variable "$y"'));
  });

  it('define, template and block', () => {
    assert.equal(render('{{define "ip"}}{{.IPAddress}}{{end}}{{template "ip" .NetworkSettings}}'), '172.17.0.2');
    assert.equal(render('{{block "b" .Name}}[{{.}}]{{end}}'), '[/web]');
    assert.throws(() => render('{{template "zz"}}'), /template "zz" not defined/);
  });
});

describe('literals and pipelines', () => {
  it('parses string, raw string, number, bool, nil and char literals', () => {
    assert.equal(render('{{"a\\tb\\n\\u00e9\\x41\\101"}}'), 'a\tb\né' + 'AA');
    assert.equal(render('{{`raw \\n {{`}}'), 'raw \\n {{');
    assert.equal(render('{{1.5}} {{1e3}} {{0x1F}} {{0o17}} {{017}} {{1_000}} {{-2}} {{+3}}'), '1.5 1000 31 15 15 1000 -2 3');
    assert.equal(render('{{true}} {{false}}'), 'true false');
    assert.equal(render("{{'a'}} {{'\\n'}}"), '97 10');
  });

  it('passes the previous stage as the last argument', () => {
    assert.equal(render('{{.Name | printf "%s!"}}'), '/web!');
    assert.equal(render('{{.Config.Env | len}}'), '2');
    assert.equal(render('{{"abc" | upper | printf "%s-%s" "x"}}'), 'x-ABC');
    assert.equal(render('{{.Config.Labels | json}}'), '{"com.example.vendor":"ACME","com.docker.compose.project":"site"}');
  });

  it('parenthesized sub-pipelines', () => {
    assert.equal(render('{{printf "%d-%s" (len .Args) (index .Args 0)}}'), '2--g');
    assert.equal(render('{{if (and .State.Running (not .State.Paused))}}up{{end}}'), 'up');
  });

  it('declarations inside actions print nothing', () => {
    assert.equal(render('{{$x := "hidden"}}'), '');
  });
});

describe('docker functions', () => {
  it('json produces compact JSON without HTML escaping or a newline', () => {
    assert.equal(render('{{json .State}}'), '{"Status":"running","Running":true,"Paused":false,"Pid":4242,"ExitCode":0,"Health":null,"StartedAt":"2024-05-06T07:08:10Z"}');
    assert.equal(render('{{json .Args}}'), '["-g","daemon off;"]');
    assert.equal(render('{{json "<a&b>"}}'), '"<a&b>"');
    assert.equal(render('{{json .Nope}}'), 'null');
    assert.equal(render('{{json .}}', 'line\u2028sep'), '"line\\u2028sep"');
    assert.equal(render('{{json .}}', {}), '{}');
  });

  it('join, split, upper, lower, title', () => {
    assert.equal(render('{{join .Args " "}}'), '-g daemon off;');
    assert.equal(render('{{join .Mounts ","}}'), '');
    assert.equal(render('{{split .Config.Image ":"}}'), '[nginx latest]');
    assert.equal(render('{{index (split .Config.Image ":") 1}}'), 'latest');
    assert.equal(render('{{upper .State.Status}} {{lower "ABC"}} {{title "hello wide-world"}}'), 'RUNNING abc Hello Wide-World');
  });

  it('pad and truncate', () => {
    assert.equal(render('[{{pad .State.Status 2 3}}]'), '[  running   ]');
    assert.equal(render('[{{pad "" 2 3}}]'), '[]');
    assert.equal(render('{{truncate .Id 12}}'), '4c01db0b339c');
    assert.equal(render('{{truncate "abc" 10}}'), 'abc');
  });

  it('println', () => {
    assert.equal(render('{{println .Name .State.Pid}}'), '/web 4242\n');
    assert.equal(render('{{range .Args}}{{println .}}{{end}}'), '-g\ndaemon off;\n');
  });

  it('header functions leave header text alone', () => {
    const header = renderTemplate('{{upper .Name}}\t{{json .Labels}}\t{{truncate .ID 3}}', { Name: 'NAMES', Labels: 'LABELS', ID: 'CONTAINER ID' }, { functions: HEADER_FUNCTIONS });
    assert.equal(header, 'NAMES\tLABELS\tCONTAINER ID');
  });

  it('accepts caller-defined functions', () => {
    const out = renderTemplate('{{shout .Name "!"}}', container, { functions: { shout: (s, suffix) => `${String(s).toUpperCase()}${String(suffix)}` } });
    assert.equal(out, '/WEB!');
  });
});

describe('Go builtins', () => {
  it('index on lists and maps', () => {
    assert.equal(render('{{index .Args 1}}'), 'daemon off;');
    assert.equal(render('{{index .Config.Labels "com.example.vendor"}}'), 'ACME');
    assert.equal(render('{{index .Config.Labels "missing"}}'), '');
    assert.equal(render('{{index .NetworkSettings.Networks "missing"}}'), '<nil>');
    assert.equal(render('{{index .NetworkSettings.Ports "80/tcp" 1 "HostIp"}}'), '::');
    assert.equal(render('{{index .Args}}'), '[-g daemon off;]');
  });

  it('len and slice', () => {
    assert.equal(render('{{len .Config.Labels}} {{len .Args}} {{len .Name}} {{len "é"}}'), '2 2 4 2');
    assert.equal(render('{{slice .Id 0 12}}'), '4c01db0b339c');
    assert.equal(render('{{slice .Config.Cmd 1}}'), '[-g daemon off;]');
    assert.equal(render('{{slice .Config.Cmd 1 2}}'), '[-g]');
  });

  it('comparisons', () => {
    assert.equal(render('{{eq .State.Pid 4242}} {{eq .State.Status "exited" "running"}} {{ne 1 2}}'), 'true true true');
    assert.equal(render('{{lt 1 2}} {{le 2 2}} {{gt "b" "a"}} {{ge 1 2}}'), 'true true true false');
    assert.equal(render('{{eq .State.Health nil}} {{eq .Name nil}}'), 'true false');
    assert.equal(render('{{eq 1.0 1}}'), 'true');
  });

  it('and, or, not return Go values and short-circuit', () => {
    assert.equal(render('{{and 1 0 2}} {{and 1 2}} {{or 0 "" "x"}} {{or 0 ""}} {{not 0}} {{not "a"}}'), '0 2 x  true false');
    // The second argument would fail if evaluated.
    assert.equal(render('{{or .State.Running (index .Args 99)}}'), 'true');
    assert.equal(render('{{and .State.Paused (index .Args 99)}}'), 'false');
  });

  it('print and printf', () => {
    assert.equal(render('{{print "a" 1 2 "b"}}'), 'a1 2b');
    assert.equal(render('{{printf "%s is %d" .Name .State.Pid}}'), '/web is 4242');
    assert.equal(render('{{printf "%v|%q|%t|%x|%X|%o|%b|%c|%5.1f|%-4d|%04d|%+d|%e|%g|%U" .Args "hi" true 255 255 8 5 65 3.14159 7 42 3 1500.0 0.5 65}}'),
      '[-g daemon off;]|"hi"|true|ff|FF|10|101|A|  3.1|7   |0042|+3|1.500000e+03|0.5|U+0041');
    assert.equal(render('{{printf "%10s|%-10s|%.2s" "right" "left" "truncate"}}'), '     right|left      |tr');
    assert.equal(render('{{printf "%*d" 5 42}}'), '   42');
    assert.equal(render('{{printf "%x" "hi"}}'), '6869');
    assert.equal(render('{{printf "%q" .Args}}'), '["-g" "daemon off;"]');
    assert.equal(render('{{printf "%d%%" 50}}'), '50%');
    assert.equal(render('{{printf "%v" .State.Health}}'), '<nil>');
  });

  it('printf reports bad verbs and argument counts like Go', () => {
    assert.equal(render('{{printf "%d" "x"}}'), '%!d(string=x)');
    assert.equal(render('{{printf "%s" 5}}'), '%!s(int=5)');
    assert.equal(render('{{printf "%d" 1.5}}'), '%!d(float64=1.5)');
    assert.equal(render('{{printf "%s %s" "a"}}'), 'a %!s(MISSING)');
    assert.equal(render('{{printf "%s" "a" "b" 3}}'), 'a%!(EXTRA string=b, int=3)');
    assert.equal(render('{{printf "%"}}'), '%!(NOVERB)');
    assert.equal(render('{{printf "%z" 1}}'), '%!z(int=1)');
  });

  it('html, js and urlquery', () => {
    assert.equal(render('{{html "<a href=\\"x\\">&</a>"}}'), '&lt;a href=&#34;x&#34;&gt;&amp;&lt;/a&gt;');
    assert.equal(render('{{urlquery "a b&c"}}'), 'a+b%26c');
    assert.equal(render('{{js "it\'s <b>"}}'), "it\\'s \\u003Cb\\u003E");
  });
});

describe('goSprintf', () => {
  it('formats directly', () => {
    assert.equal(goSprintf('%s=%d', ['a', 1]), 'a=1');
    assert.equal(goSprintf('%6.2f%%', [12.345]), ' 12.35%');
    assert.equal(goSprintf('%.1f', [0.25]), '0.2');
    assert.equal(goSprintf('%v', [{ b: 1, a: [true] }]), 'map[a:[true] b:1]');
  });
});

describe('missingkey option', () => {
  it('error mode fails on a missing map key like docker inspect raw fallback', () => {
    assert.throws(
      () => renderTemplate('{{.State.Nope}}', container, { missingKey: 'error' }),
      new TemplateError('template: :1:8: executing "" at <.State.Nope>: map has no entry for key "Nope"'),
    );
    assert.equal(renderTemplate('{{.State.Pid}}', container, { missingKey: 'error' }), '4242');
  });

  it('zero mode yields nil', () => {
    assert.equal(renderTemplate('{{.Nope}}', container, { missingKey: 'zero' }), '<nil>');
  });
});

describe('errors', () => {
  const parseError = (source: string, message: string): void => {
    assert.throws(() => compileTemplate(source), new TemplateError(message), source);
  };
  const execError = (source: string, message: string): void => {
    const run = compileTemplate(source);
    assert.throws(() => run(container), new TemplateError(message), source);
  };

  it('parse errors use Go wording', () => {
    parseError('{{foo}}', 'template: :1: function "foo" not defined');
    parseError('{{.Name', 'template: :1: unclosed action');
    parseError('{{end}}', 'template: :1: unexpected {{end}}');
    parseError('{{else}}', 'template: :1: unexpected {{else}}');
    parseError('{{if .Name}}x', 'template: :1: unexpected EOF');
    parseError('{{if}}{{end}}', 'template: :1: missing value for if');
    parseError('{{$x}}', 'template: :1: undefined variable "$x"');
    parseError('{{"abc}}', 'template: :1: unterminated quoted string');
    parseError('{{`abc}}', 'template: :1: unterminated raw quoted string');
    parseError('{{(.Name}}', 'template: :1: unclosed left paren');
    // Go's lexer emits the ")" before its error, so the parser reports the token.
    parseError('{{.Name)}}', 'template: :1: unexpected ")" in command');
    parseError('{{.Name | 3}}', 'template: :1: non executable command in pipeline stage 2');
    parseError('{{break}}', 'template: :1: {{break}} outside {{range}}');
    parseError('{{3x}}', 'template: :1: bad number syntax: "3x"');
    parseError('{{"a".Foo}}', 'template: :1: unexpected . after term "\\"a\\""');
    parseError('line1\n{{nope}}', 'template: :2: function "nope" not defined');
    parseError('{{.Name}}{{end}}', 'template: :1: unexpected {{end}}');
  });

  it('execution errors carry line:col and the failing node', () => {
    execError('{{.State.Health.Status}}', 'template: :1:8: executing "" at <.State.Health.Status>: nil pointer evaluating interface {}.Status');
    execError('{{.Name.Foo}}', 'template: :1:7: executing "" at <.Name.Foo>: can\'t evaluate field Foo in type string');
    execError('{{index .Args 5}}', 'template: :1:2: executing "" at <index .Args 5>: error calling index: index out of range: 5');
    execError('x\n  {{len 3}}', 'template: :2:4: executing "" at <len 3>: error calling len: len of type int');
    execError('{{lower 3}}', 'template: :1:2: executing "" at <lower 3>: wrong type for value; expected string; got int');
    execError('{{.Name 1}}', 'template: :1:2: executing "" at <.Name>: Name is not a method but has arguments');
    execError('{{range .Name}}{{end}}', 'template: :1:8: executing "" at <.Name>: range can\'t iterate over /web');
    execError('{{lt .Name 1}}', 'template: :1:2: executing "" at <lt .Name 1>: error calling lt: incompatible types for comparison');
    execError('{{eq .Args .Args}}', 'template: :1:2: executing "" at <eq .Args .Args>: error calling eq: non-comparable type [-g daemon off;]: []string');
    execError('{{printf}}', 'template: :1:2: executing "" at <printf>: wrong number of args for printf: want at least 1 got 0');
    execError('{{len .NetworkSettings.Networks.bridge.Gateway.X}}', 'template: :1:22: executing "" at <.NetworkSettings.Net...>: can\'t evaluate field X in type string');
  });

  it('TemplateError is an Error', () => {
    try {
      compileTemplate('{{nope}}');
      assert.fail('expected a throw');
    } catch (err) {
      assert.ok(err instanceof TemplateError);
      assert.ok(err instanceof Error);
    }
  });
});

describe('compileTemplate', () => {
  it('compiles once and renders many times', () => {
    const row = compileTemplate('{{.ID}}\t{{.Names}}');
    assert.equal(row({ ID: 'a', Names: 'x' }), 'a\tx');
    assert.equal(row({ ID: 'b', Names: 'y' }), 'b\ty');
  });
});

describe('table format helpers', () => {
  it('detects and strips the table directive like docker', () => {
    assert.equal(isTableFormat('table {{.ID}}'), true);
    assert.equal(isTableFormat('table'), true);
    assert.equal(isTableFormat('{{.ID}}'), false);
    assert.equal(isTableFormat('json'), false);
    assert.equal(stripTable('table {{.ID}}\t{{.Names}}  '), '{{.ID}}\t{{.Names}}');
    assert.equal(stripTable('{{.ID}} '), '{{.ID}}');
    assert.equal(prepareFormat('table {{.ID}}\\t{{.Image}}\\n'), '{{.ID}}\t{{.Image}}\n');
  });
});
