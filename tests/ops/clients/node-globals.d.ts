// The two Node globals the journey's command line uses (no @types/node dependency).
declare const process: { argv: string[]; exit(code: number): never };
