/** `ferry campaign build|plan|check`: many images onto many sticks from one campaign file (media/campaign/). */
import type { Command } from 'commander';
import { ExitCode, FerryError, isFerryError } from '../../errors.js';
import { buildCampaign, type CampaignBuildResult } from '../../media/campaign/build.js';
import { checkCampaignStick } from '../../media/campaign/check.js';
import { loadCampaign } from '../../media/campaign/load.js';
import { campaignClasses, deviceClassFromConfig, deviceClassFromSpec, planCampaign } from '../../media/campaign/plan.js';
import type { Campaign, CampaignProblem } from '../../media/campaign/types.js';
import { defaultChunkCacheDir, openChunkCache } from '../../oci/chunk-cache.js';
import { parseUtc } from '../../trust/manifest.js';
import { cancelOnSignal, waitMessage } from '../cancel.js';
import { addRegistryFlags, type RegistryFlags, registryOptionsOf } from '../registry-options.js';
import { action, printJson, printLines, printNotes, reportError } from '../run.js';

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

/** Load the campaign; on CAMPAIGN_INVALID also print each problem on its own line (file:line: message), as compilers do. */
async function load(file: string, json: boolean, checkFiles = true): Promise<Campaign> {
  try {
    return await loadCampaign(file, { checkFiles });
  } catch (e) {
    if (!json && isFerryError(e, 'CAMPAIGN_INVALID')) printNotes(...(e.details.problems as CampaignProblem[]).map((p) => `${p.file}:${p.line}: ${p.message}`));
    throw e;
  }
}

function printBuild(r: CampaignBuildResult, json: boolean): number {
  const failed = r.sticks.filter((s) => !s.ok);
  if (json) {
    printJson({ ok: failed.length === 0, ...r });
    return failed.length === 0 ? ExitCode.OK : ExitCode.MEDIA_IO;
  }
  for (const s of r.sticks) {
    printNotes(...s.warnings.map((w) => `ferry: warning: ${s.media}: ${w}`));
    const steps = s.steps.map((st) => `${st.update} ${st.image === 'exported' ? `exported (${st.blobsWritten} blob(s), ${st.bytesWritten} bytes)` : 'already there'}, ${st.signature === 'signed' ? 'signed' : 'signature kept'}`);
    printLines(`${s.media}: ${s.ok ? 'complete' : `FAILED (${s.error?.code}): ${s.error?.message}`}`, ...steps.map((x) => `  ${x}`), ...(s.carried.length ? [`  carried: ${s.carried.join(', ')}`] : []));
  }
  printLines(`campaign ${r.campaign}: ${r.sticks.length - failed.length} of ${r.sticks.length} stick(s) complete; ${r.sourceReads} source blob read(s) for all sticks together`);
  if (failed.length === 0) return ExitCode.OK;
  return reportError(new FerryError('CAMPAIGN_STICK_FAILED', `${failed.length} of ${r.sticks.length} stick(s) failed (${failed.map((s) => s.media).join(', ')}): put them back or use others and run the same build again; it skips what is already there`), false);
}

/** Register `ferry campaign` and its subcommands on the program. */
export function registerCampaign(program: Command): void {
  const campaign = program.command('campaign').description('build, plan and check a campaign: many images, signed, onto many sticks, from one YAML or JSON file');
  registerBuild(campaign);
  registerPlan(campaign);
  registerCheck(campaign);
}

function registerBuild(campaign: Command): void {
  const build = campaign
    .command('build')
    .description('export and sign every image of the campaign onto every --media stick, each source blob read once for all sticks; a re-run skips what is there and finishes an interrupted one')
    .argument('<campaign>', 'the campaign file (YAML or JSON)')
    .requiredOption('--media <dir>', 'a stick (mounted folder) to write; repeat for several sticks', collect, [])
    .option('--create', 'create --media folders that do not exist (else a missing path is refused: a typo must not write elsewhere)')
    .option('--no-chunk-cache', "do not use this machine's cache of layer chunk digests")
    .option('--json', 'print the result as JSON');
  addRegistryFlags(build, 'docker:// images').action(
    action(async (file: string, o: RegistryFlags & { media: string[]; create?: boolean; chunkCache?: boolean; json?: boolean }) => {
      const registry = registryOptionsOf(o);
      const c = await load(file, o.json ?? false);
      const uncancel = cancelOnSignal(o.json ?? false);
      try {
        const r = await buildCampaign({ campaign: c, media: o.media, create: o.create ?? false, registry, lockOptions: { onWait: waitMessage }, ...(o.chunkCache !== false ? { chunkCache: openChunkCache(defaultChunkCacheDir()) } : {}) });
        return printBuild(r, o.json ?? false);
      } finally {
        uncancel();
      }
    }),
  );
}

function registerPlan(campaign: Command): void {
  campaign
    .command('plan')
    .description('show which device class would install which update of the campaign, and why each other is skipped (the rules of ferry device apply)')
    .argument('<campaign>', 'the campaign file (YAML or JSON)')
    .option('--device-config <file>', "a device's device.json (its state is read when its stateDir is here); repeatable", collect, [])
    .option('--device <spec>', 'a device class: COMPATIBLE, or COMPATIBLE=TARGET@COUNTER for what it runs now; repeatable', collect, [])
    .option('--at <time>', 'plan as of this RFC 3339 UTC time (e.g. the rollout date) instead of now')
    .option('--json', 'print the plan as JSON')
    .action(
      action(async (file: string, o: { deviceConfig: string[]; device: string[]; at?: string; json?: boolean }) => {
        const c = await load(file, o.json ?? false, false);
        const at = o.at === undefined ? new Date() : new Date(parseUtc(o.at) ?? NaN);
        if (Number.isNaN(at.getTime())) throw new FerryError('USAGE', `--at "${o.at}" is not an RFC 3339 UTC time (2027-03-01T00:00:00Z)`);
        const classes = [...(await Promise.all(o.deviceConfig.map(deviceClassFromConfig))), ...o.device.map(deviceClassFromSpec)];
        const plans = planCampaign(c, classes.length ? classes : campaignClasses(c), at);
        if (o.json) return printJson({ ok: true, campaign: c.name, at: at.toISOString(), plans });
        const lines = plans.flatMap((p) => [
          `${p.compatible} (${p.source === 'campaign' ? 'a new device' : p.source}; runs ${p.running}): ${p.installs !== undefined ? `installs ${p.installs}` : `nothing (${p.nothing?.code}: ${p.nothing?.message})`}`,
          ...p.skipped.map((s) => `  skips ${s.id}: ${s.code}: ${s.message}`),
        ]);
        printLines(`campaign ${c.name} as of ${at.toISOString()}:`, ...lines);
      }),
    );
}

function registerCheck(campaign: Command): void {
  campaign
    .command('check')
    .description('check that a packed stick holds its campaign: every image, signature, rollout window, blob, CRL and cross-certificate')
    .argument('<campaign>', 'the campaign file (YAML or JSON)')
    .requiredOption('--media <dir>', 'the stick (mounted folder) to check')
    .option('--json', 'print the result as JSON')
    .action(
      action(async (file: string, o: { media: string; json?: boolean }) => {
        const c = await load(file, o.json ?? false, false);
        const r = await checkCampaignStick(c, o.media);
        const err = r.ok ? undefined : new FerryError('CAMPAIGN_MISMATCH', `${o.media} does not match campaign ${c.name}: ${[...r.problems, ...r.images.flatMap((i) => i.problems)].join('; ')}`);
        if (o.json) {
          printJson({ ...r, ...(err ? { error: { code: err.code, message: err.message } } : {}) });
          return err ? err.exitCode : ExitCode.OK;
        }
        printLines(...r.images.map((i) => `${i.ok ? 'ok' : 'MISMATCH'} ${i.id}${i.problems.length ? `: ${i.problems.join('; ')}` : ''}`), ...r.problems.map((p) => `MISMATCH ${p}`));
        printNotes(...r.notes.map((n) => `ferry: note: ${n}`));
        if (err) return reportError(err, false);
        printLines(`${o.media} matches campaign ${c.name}`);
        return ExitCode.OK;
      }),
    );
}
