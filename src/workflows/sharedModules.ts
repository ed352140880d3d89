import { z } from 'zod';

/**
 * Loaded once per workflow thread and shared by every workflow in the worker's reusable V8 context
 * (bundlerOptions.preloadModules, src/worker/index.ts) instead of being evaluated again for each one: zod is most
 * of a cached lifecycle's memory and of its first task's CPU otherwise. The SDK freezes shared modules after this
 * runs, so zod's lazily initialised module state (its default locale, its JIT probe) is initialised here first.
 */
z.config(z.locales.en());
z.strictObject({ text: z.string().min(1), n: z.number().int() }).safeParse({ text: 'x', n: 1 });
