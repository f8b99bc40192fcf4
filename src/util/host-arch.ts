// This machine's architecture as Go (and so Docker) names it.

const GO_ARCH: Record<string, string> = {
  x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64',
  mips: 'mips', mipsel: 'mipsle', loong64: 'loong64',
};

/** The Go architecture name Docker uses for this machine ("amd64" for Node's "x64"). */
export function hostArchitecture(): string {
  return GO_ARCH[process.arch] ?? process.arch;
}
