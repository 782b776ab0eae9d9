/**
 * Carrying out an audit plan. Every decision is a move, never a delete: an
 * excluded file goes to a quarantine folder beside the data, a relabelled
 * one to its new class folder. Nothing moves until the whole plan has been
 * checked, nothing is overwritten, and each move is recorded in an undo log
 * beside the data, so that undoPlan() can put every file back as it was.
 */
import { constants, createReadStream, existsSync, promises as fs } from 'node:fs';
import { createHash } from 'node:crypto';
import { basename, dirname, isAbsolute, join, normalize, relative, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { writeFileAtomic } from '../util/atomic.js';
import { errnoCode, isWithin, lstatOrUndefined, realPathOf } from '../util/paths.js';
import { ConvkitError } from '../util/errors.js';
import { listNames } from '../util/list-names.js';
import { AUDIT_SPLITS } from './collect.js';
import { PLAN_FORMAT, type AuditPlan, type PlanAction } from './plan.js';

export interface ApplyResult {
  /** Files moved (excluded ones included). */
  moved: number;
  /** The quarantine folder excluded files went to. */
  quarantine: string;
  /** The undo log undoPlan() reads. */
  undoLog: string;
}

interface LogOption {
  log?: (line: string) => void;
}

const UNDO_FORMAT = 'convkit-audit-undo';

/** The undo log. Its paths are relative to the folder that holds the data, the quarantine and the log, so the three can move together. */
interface UndoLog {
  format: typeof UNDO_FORMAT;
  version: 1;
  /** Folders apply made (the quarantine and its sub-folders), parents first. */
  createdFolders: string[];
  /** In the order they were made; each entry is written before its move, so no move goes unrecorded. */
  moves: { from: string; to: string; sha256: string }[];
}

/** Where a data folder's quarantine and undo log live: beside it, never inside it. */
interface Places {
  data: string;
  base: string;
  quarantine: string;
  undoLog: string;
}

/** One planned move, absolute paths; `what` names the plan entry for messages. */
interface Move {
  what: string;
  kind: PlanAction['action'];
  from: string;
  to: string;
}

const PLAN_FIX = 'write the plan as convkit audit does: {"format": "convkit-audit-plan", "version": 1, "data": "...", "actions": [...]}';

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function placesOf(data: string): Places {
  const root = resolve(data);
  const base = dirname(root);
  const name = basename(root);
  return { data: root, base, quarantine: join(base, `${name}.quarantine`), undoLog: join(base, `${name}.audit-undo.json`) };
}

/** Reads and checks a plan file; errors name the file and the bad entry. */
export async function readPlan(path: string): Promise<AuditPlan> {
  const file = resolve(path);
  const text = await fs.readFile(file, 'utf8').catch((err: Error) => {
    throw new ConvkitError(`plan ${file} cannot be read: ${err.message}`, 'give the plan file written by convkit audit');
  });
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ConvkitError(`plan ${file} is not valid JSON (${(err as Error).message})`, PLAN_FIX);
  }
  checkPlan(value, `plan ${file}`);
  return value;
}

function checkPlan(value: unknown, source: string): asserts value is AuditPlan {
  const bad = (what: string) => new ConvkitError(`${source}: ${what}`, PLAN_FIX);
  if (!isObject(value)) throw bad('not a JSON object');
  if (value.format !== PLAN_FORMAT) throw bad(`format is ${JSON.stringify(value.format)}, not "${PLAN_FORMAT}"`);
  if (value.version !== 1) throw bad(`version ${JSON.stringify(value.version)} is not supported (only 1)`);
  if (typeof value.data !== 'string' || value.data === '') throw bad('"data" must name the data folder');
  if (!Array.isArray(value.actions)) throw bad('"actions" must be a list');
  value.actions.forEach((action: unknown, i) => {
    const problem = actionProblem(action);
    if (problem) throw bad(`actions[${i}] ${problem}`);
  });
}

function actionProblem(action: unknown): string | undefined {
  if (!isObject(action)) return 'is not an object';
  if (action.action !== 'exclude' && action.action !== 'move') return `has action ${JSON.stringify(action.action)}; it must be "exclude" or "move"`;
  if (typeof action.file !== 'string' || action.file === '') return `(${action.action}) has no "file"`;
  const pathProblem = relativePathProblem(action.file);
  if (pathProblem) return `(${action.action}) file ${JSON.stringify(action.file)} ${pathProblem}`;
  if (action.action === 'move' && !isFolderName(action.toClass)) {
    return `(move ${action.file}) has toClass ${JSON.stringify(action.toClass)}; it must be the name of a class folder`;
  }
  if (action.reason !== undefined && typeof action.reason !== 'string') return `(${action.action} ${action.file}) has a "reason" that is not text`;
  return undefined;
}

/** Why `file` cannot be a path inside the data folder, or undefined when it can. */
function relativePathProblem(file: string): string | undefined {
  if (isAbsolute(file)) return 'is absolute; plan paths are relative to the data folder';
  const path = normalize(file);
  if (path === '..' || path.startsWith(`..${sep}`)) return 'leads outside the data folder';
  if (path === '.' || path === `.${sep}`) return 'names the data folder itself, not a file in it';
  return undefined;
}

function isFolderName(name: unknown): name is string {
  return typeof name === 'string' && name !== '' && name !== '.' && name !== '..' && !name.includes('/') && !name.includes(sep);
}

/**
 * Carries out `plan` on `options.data` (default: the plan's `data`). Checks
 * every action first and moves nothing when one fails; a move that fails
 * midway puts back the files already moved.
 */
export async function applyPlan(plan: AuditPlan, options: { data?: string } & LogOption = {}): Promise<ApplyResult> {
  checkPlan(plan, 'the plan');
  const places = placesOf(options.data ?? plan.data);
  await checkPlaces(places);
  const moves = await planMoves(plan.actions, places);
  await carryOut(moves, places, options.log ?? (() => {}));
  return { moved: moves.length, quarantine: places.quarantine, undoLog: places.undoLog };
}

async function checkPlaces(places: Places): Promise<void> {
  const st = await fs.stat(places.data).catch(() => undefined);
  if (!st?.isDirectory()) throw new ConvkitError(`data folder ${places.data} does not exist or is not a folder`, 'give the folder the plan was made for');
  if (await lstatOrUndefined(places.undoLog)) throw undoLogExists(places);
  const [data, quarantine] = [await realPathOf(places.data), await realPathOf(places.quarantine)];
  if (isWithin(quarantine, data) || isWithin(data, quarantine)) {
    const how = isWithin(quarantine, data) ? 'lies inside' : 'holds';
    throw new ConvkitError(
      `the quarantine folder ${places.quarantine} ${how} the data folder ${places.data}`,
      'the quarantine must be a folder of its own beside the data',
    );
  }
  const q = await fs.stat(places.quarantine).catch(() => undefined);
  if (q && !q.isDirectory()) throw new ConvkitError(`${places.quarantine} is a file, not a quarantine folder`, 'move that file away, then apply again');
}

function undoLogExists(places: Places): ConvkitError {
  return new ConvkitError(
    `an undo log ${places.undoLog} already exists from an earlier apply`,
    'undo that apply first, or move the log away to keep its changes, then apply again',
  );
}

async function planMoves(actions: PlanAction[], places: Places): Promise<Move[]> {
  const classesOf = classLister(places.data);
  const moves: Move[] = [];
  for (const [i, action] of actions.entries()) moves.push(await planMove(action, i, places, classesOf));
  checkDistinct(moves);
  for (const move of moves) {
    await checkSource(move);
    await checkFree(move.to, move.what);
    await checkParentFolders(move.to, move.what);
  }
  return moves;
}

async function planMove(action: PlanAction, index: number, places: Places, classesOf: ClassLister): Promise<Move> {
  const file = normalize(action.file);
  const what = `plan action ${index} (${action.action} ${file})`;
  const from = join(places.data, file);
  if (action.action === 'exclude') return { what, kind: 'exclude', from, to: join(places.quarantine, file) };
  const { split, className } = classFolderOf(file, places.data, what);
  const classes = await classesOf(split);
  if (!classes.includes(action.toClass)) {
    throw new ConvkitError(
      `${what}: class ${action.toClass} is not a class folder of ${join(places.data, split)} (classes: ${listNames(classes)})`,
      'use one of those class names',
    );
  }
  if (action.toClass === className) throw new ConvkitError(`${what}: the file is already in class ${className}`, 'drop that action from the plan');
  return { what, kind: 'move', from, to: join(places.data, split, action.toClass, basename(file)) };
}

/** The split ('' for plain class folders) and class a data-relative path lies in. */
function classFolderOf(file: string, data: string, what: string): { split: string; className: string } {
  const parts = file.split(sep);
  const splitLayout = existsSync(join(data, 'train'));
  const depth = splitLayout ? 2 : 1;
  if (parts.length <= depth || (splitLayout && !(AUDIT_SPLITS as readonly string[]).includes(parts[0]!))) {
    const where = splitLayout ? 'a class folder of train/, validation/, val/ or test/' : 'a class folder';
    throw new ConvkitError(`${what}: the file is not in ${where} of ${data}`, 'only files in a class folder can move to another class');
  }
  return { split: splitLayout ? parts[0]! : '', className: parts[depth - 1]! };
}

type ClassLister = (split: string) => Promise<string[]>;

/** Lists each split's class folders once (hidden folders are not classes, as when the data is read). */
function classLister(data: string): ClassLister {
  const known = new Map<string, Promise<string[]>>();
  const list = async (dir: string) => {
    const names = [];
    for (const entry of await fs.readdir(dir)) {
      if (!entry.startsWith('.') && (await fs.stat(join(dir, entry)).catch(() => undefined))?.isDirectory()) names.push(entry);
    }
    return names.sort();
  };
  return (split) => {
    if (!known.has(split)) known.set(split, list(join(data, split)));
    return known.get(split)!;
  };
}

function checkDistinct(moves: Move[]): void {
  const bySource = new Map<string, Move>();
  const byDestination = new Map<string, Move>();
  for (const move of moves) {
    const sameFile = bySource.get(move.from);
    if (sameFile) throw new ConvkitError(`${sameFile.what} and ${move.what} name the same file`, 'keep one decision per file in the plan');
    const samePlace = byDestination.get(move.to);
    if (samePlace)
      throw new ConvkitError(`${samePlace.what} and ${move.what} would both move a file to ${move.to}`, 'keep one of them, or rename one file first');
    bySource.set(move.from, move);
    byDestination.set(move.to, move);
  }
}

async function checkSource(move: Move): Promise<void> {
  const st = await lstatOrUndefined(move.from);
  const problem = !st ? 'does not exist' : st.isSymbolicLink() ? 'is a symbolic link; move it by hand' : !st.isFile() ? 'is not a file' : '';
  if (problem) throw new ConvkitError(`${move.what}: ${move.from} ${problem}`, 'check the plan against the data folder, or drop that action');
}

/** Refuses an existing `path` (a dangling link counts): convkit never overwrites. */
async function checkFree(path: string, what: string): Promise<void> {
  if (await lstatOrUndefined(path)) {
    throw new ConvkitError(`${what}: ${path} already exists`, 'convkit never overwrites: rename or move that file away, or drop the action from the plan');
  }
}

/** The destination's nearest existing ancestor must be a folder, or its folders cannot be made. */
async function checkParentFolders(path: string, what: string): Promise<void> {
  let dir = dirname(path);
  let st = await fs.stat(dir).catch(() => undefined);
  while (!st && dirname(dir) !== dir) st = await fs.stat((dir = dirname(dir))).catch(() => undefined);
  if (st && !st.isDirectory()) throw new ConvkitError(`${what}: ${dir} is a file, so ${dirname(path)} cannot be made`, 'move that file away, then apply again');
}

async function carryOut(moves: Move[], places: Places, say: (line: string) => void): Promise<void> {
  const record: UndoLog = { format: UNDO_FORMAT, version: 1, createdFolders: [], moves: [] };
  await claimUndoLog(places, record);
  try {
    for (const move of moves) await moveRecorded(move, record, places, say);
  } catch (err) {
    await rollBack(places, err, say);
  }
}

/** Creates the undo log only if none exists, so two applies at once cannot both proceed (the rest of its writes are atomic replaces). */
async function claimUndoLog(places: Places, record: UndoLog): Promise<void> {
  try {
    await fs.writeFile(places.undoLog, undoLogText(record), { flag: 'wx' });
  } catch (err) {
    throw errnoCode(err) === 'EEXIST' ? undoLogExists(places) : err;
  }
}

function undoLogText(record: UndoLog): string {
  return JSON.stringify(record, null, 2) + '\n';
}

async function moveRecorded(move: Move, record: UndoLog, places: Places, say: (line: string) => void): Promise<void> {
  await makeFolders(dirname(move.to), record, places);
  const sha256 = await sha256File(move.from);
  record.moves.push({ from: relative(places.base, move.from), to: relative(places.base, move.to), sha256 });
  // Recorded before it happens: an interrupted apply leaves no move the log does not know of.
  await writeFileAtomic(places.undoLog, undoLogText(record));
  await moveFile(move.from, move.to, sha256, move.what);
  say(`${move.kind === 'exclude' ? 'quarantined' : 'moved'} ${relative(places.base, move.from)} → ${relative(places.base, move.to)}`);
}

/** mkdir -p that records each folder it makes (in the log, before making it), so undo removes exactly those. */
async function makeFolders(dir: string, record: UndoLog, places: Places): Promise<void> {
  const missing: string[] = [];
  for (let d = dir; !(await lstatOrUndefined(d)); d = dirname(d)) missing.unshift(d);
  if (missing.length === 0) return;
  record.createdFolders.push(...missing.map((d) => relative(places.base, d)));
  await writeFileAtomic(places.undoLog, undoLogText(record));
  for (const d of missing) await fs.mkdir(d);
}

async function rollBack(places: Places, cause: unknown, say: (line: string) => void): Promise<never> {
  say('applying the plan failed; putting back the files moved so far');
  try {
    await undoPlan(places.data, { log: say });
  } catch (err) {
    throw new ConvkitError(
      `applying the plan failed (${(cause as Error).message}), and putting the moved files back failed too (${(err as Error).message})`,
      `the undo log ${places.undoLog} records every move: fix the problem, then undo again`,
    );
  }
  throw cause;
}

/** Renames `from` to `to`, refusing an existing `to`; across file systems, copies, checks the copy, then removes the original. */
async function moveFile(from: string, to: string, sha256: string, what: string): Promise<void> {
  // Checked again just before: the file may have appeared since the plan was checked, and rename would replace it.
  await checkFree(to, what);
  try {
    await fs.rename(from, to);
  } catch (err) {
    if (errnoCode(err) !== 'EXDEV') throw err;
    await copyAcross(from, to, sha256);
  }
}

/** A move between file systems. The original is unlinked only once a verified copy is in place, so the file always exists somewhere. */
async function copyAcross(from: string, to: string, sha256: string): Promise<void> {
  const tmp = join(dirname(to), `.${basename(to)}.tmp-${process.pid}`);
  try {
    await fs.copyFile(from, tmp, constants.COPYFILE_EXCL);
    const st = await fs.stat(from);
    await fs.utimes(tmp, st.atime, st.mtime);
    if ((await sha256File(tmp)) !== sha256) throw new ConvkitError(`copying ${from} to ${to} gave different bytes`, 'check the disk, then try again');
    await fs.rename(tmp, to);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
  await fs.unlink(from);
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

/**
 * Puts back every file the plan applied to `data` moved, in reverse order,
 * after checking that each is still where the log says with the same bytes
 * and that its original place is free; then removes the folders apply made
 * (when empty) and the undo log.
 */
export async function undoPlan(data: string, options: LogOption = {}): Promise<{ restored: number }> {
  const places = placesOf(data);
  const record = await readUndoLog(places);
  const moved = [];
  for (const entry of record.moves) if (await checkRestorable(entry, places)) moved.push(entry);
  const say = options.log ?? (() => {});
  for (const entry of moved.reverse()) {
    await moveFile(join(places.base, entry.to), join(places.base, entry.from), entry.sha256, `undo of ${entry.from}`);
    say(`put back ${entry.from}`);
  }
  await removeCreatedFolders(record, places, say);
  await fs.unlink(places.undoLog);
  return { restored: moved.length };
}

async function readUndoLog(places: Places): Promise<UndoLog> {
  const text = await fs.readFile(places.undoLog, 'utf8').catch((err) => {
    if (errnoCode(err) !== 'ENOENT') throw err;
    throw new ConvkitError(
      `there is no undo log ${places.undoLog}: nothing to undo for ${places.data}`,
      'undo reads the log that applying a plan writes beside the data folder',
    );
  });
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ConvkitError(
      `undo log ${places.undoLog} is not valid JSON (${(err as Error).message})`,
      'put back the log apply wrote, or restore the files by hand',
    );
  }
  const problem = undoLogProblem(value, places);
  if (problem) throw new ConvkitError(`undo log ${places.undoLog}: ${problem}`, 'put back the log apply wrote, or restore the files by hand');
  return value as UndoLog;
}

/** Checks the log's shape and that every path lies in the data folder or the quarantine, so a damaged log cannot move other files. */
function undoLogProblem(value: unknown, places: Places): string | undefined {
  if (!isObject(value) || value.format !== UNDO_FORMAT || value.version !== 1) return `not a version 1 "${UNDO_FORMAT}" log`;
  if (!Array.isArray(value.moves) || !Array.isArray(value.createdFolders)) return 'it lacks "moves" or "createdFolders"';
  const [data, quarantine] = [basename(places.data), basename(places.quarantine)];
  for (const [i, move] of (value.moves as unknown[]).entries()) {
    const ok = isObject(move) && below(move.from, data) && (below(move.to, quarantine) || below(move.to, data));
    if (!ok || typeof move.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(move.sha256)) return `moves[${i}] is not a move within ${data} or ${quarantine}`;
  }
  const folder = (value.createdFolders as unknown[]).findIndex((f) => f !== quarantine && !below(f, quarantine));
  return folder >= 0 ? `createdFolders[${folder}] is not a folder of ${quarantine}` : undefined;
}

/** True when `path` is a relative path below the folder `top`. */
function below(path: unknown, top: string): boolean {
  if (typeof path !== 'string' || relativePathProblem(path)) return false;
  const parts = normalize(path).split(sep);
  return parts.length > 1 && parts[0] === top;
}

/**
 * True when the entry's file is where the log says, with the same bytes, and
 * its original place is free; false when it is already back in its original
 * place (a move an interrupted apply never made, or an interrupted undo did).
 */
async function checkRestorable(entry: UndoLog['moves'][number], places: Places): Promise<boolean> {
  const [from, to] = [join(places.base, entry.from), join(places.base, entry.to)];
  const atTo = await sha256IfFile(to);
  if (atTo === undefined) {
    if ((await sha256IfFile(from)) === entry.sha256) return false;
    throw new ConvkitError(`cannot undo: ${to} is missing (the undo log says ${entry.from} was moved there)`, 'put the file back there, then undo again');
  }
  if (atTo !== entry.sha256) {
    throw new ConvkitError(
      `cannot undo: ${to} has changed since the plan was applied (its sha256 differs from the undo log's)`,
      'put back the original file, then undo again',
    );
  }
  if (await lstatOrUndefined(from))
    throw new ConvkitError(`cannot undo: ${from} already exists, so ${to} cannot go back there`, 'move that file away, then undo again');
  if (!(await fs.stat(dirname(from)).catch(() => undefined))?.isDirectory()) {
    throw new ConvkitError(`cannot undo: the folder ${dirname(from)} that ${to} came from is gone`, 'make that folder again, then undo again');
  }
  return true;
}

async function sha256IfFile(path: string): Promise<string | undefined> {
  const st = await lstatOrUndefined(path);
  if (!st) return undefined;
  if (!st.isFile()) throw new ConvkitError(`cannot undo: ${path} is not a file`, 'put back the file the undo log names, then undo again');
  return sha256File(path);
}

/** Removes the folders apply made, deepest first, only when empty: anything put there since stays. */
async function removeCreatedFolders(record: UndoLog, places: Places, say: (line: string) => void): Promise<void> {
  for (const folder of [...record.createdFolders].reverse()) {
    const dir = join(places.base, folder);
    await fs.rmdir(dir).catch((err) => {
      if (errnoCode(err) === 'ENOTEMPTY' || errnoCode(err) === 'EEXIST') say(`kept ${dir}: it holds files apply did not put there`);
      else if (errnoCode(err) !== 'ENOENT') throw err;
    });
  }
}
