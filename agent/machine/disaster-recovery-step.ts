import type { DesiredState } from '../core/desired.ts';
import { AgentError } from '../core/errors.ts';
import type { Executor, Recoverer } from '../core/executors.ts';

/** What a recovery did, as far as the step reports it (backup/disaster-recovery.ts returns one). */
export type RecoveryReport =
  | { kind: 'not-requested' }
  | { kind: 'data-present'; data: { files: number; database: string } }
  | {
      kind: 'recovered-backup';
      result: { snapshot: { id: string; shortId: string }; files: number; tables: number; rows: number };
    }
  | { kind: 'recovered-dump'; file: string; tables: number; rows: number };

/** Restores a fresh appliance's data as env.yml asks (see agent/backup/disaster-recovery.ts). */
export type RecoverData = (desired: DesiredState) => Promise<RecoveryReport>;

/**
 * The `data.recover` step. It leaves nothing to undo: it only ever writes into an empty
 * appliance, and a restore swaps its data in at the end, after checking it.
 */
export function recoverExecutor(recover: RecoverData | undefined): Executor<'data.recover'> {
  return async (step, ctx) => {
    if (recover === undefined) {
      throw new AgentError('RecoveryUnavailable', `${step.id}: this machine driver cannot restore backups`, {
        terminal: true,
      });
    }
    const outcome = await recover(ctx.desired);
    switch (outcome.kind) {
      case 'recovered-backup': {
        const r = outcome.result;
        ctx.log.warn(
          { snapshot: r.snapshot.shortId, files: r.files, tables: r.tables, rows: r.rows },
          'recovered the appliance from its latest backup',
        );
        await ctx.record({ kind: outcome.kind, snapshot: r.snapshot.id, files: r.files, rows: r.rows });
        break;
      }
      case 'recovered-dump':
        ctx.log.warn({ file: outcome.file, tables: outcome.tables, rows: outcome.rows }, 'recovered the database');
        await ctx.record({ kind: outcome.kind, file: outcome.file, rows: outcome.rows });
        break;
      case 'data-present':
        ctx.log.info({ files: outcome.data.files, database: outcome.data.database }, 'data present: not recovering');
        await ctx.record({ kind: outcome.kind });
        break;
      case 'not-requested':
        await ctx.record({ kind: outcome.kind });
        break;
    }
    return undefined;
  };
}

/** After a crash nothing is undone: the next plan recovers again while the appliance has no data. */
export const recoverRecoverer: Recoverer<'data.recover'> = (step, ctx) => {
  ctx.log.warn({ step: step.id }, 'recovery was interrupted; it runs again while the appliance has no data');
  return Promise.resolve();
};
