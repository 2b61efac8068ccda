import { status, type ServerDuplexStream } from '@grpc/grpc-js';
import {
  drained,
  readerStalled,
  UNAVAILABLE_CODE,
  undecodable,
  UNDECODABLE_CODE,
  type RequestBudget,
} from '@enforcement/grpc-kit';
import type { intake } from '@enforcement/contracts';
import { stillValid, streamTokenExpired, type Principal } from '@enforcement/auth';
import { feedOf, type FeedMark } from '@enforcement/messaging';
import { withDeadline } from '@enforcement/errors';
import { StreamFloor, type StreamFeeds } from '../../application/stream-feeds.js';
import {
  caseKeysOf,
  executeCommand,
  type FeedFloor,
  type IntakeDeps,
} from '../../application/execute-command.js';
import { rejection } from './rejection.js';

/** How long a stream's items stay settled, with nothing new received, before its feeds are marked (ms). */
export const MARK_AFTER_QUIET_MS = 250;

type Call = ServerDuplexStream<intake.SubmitEventsRequest, intake.SubmitEventsResponse>;

export interface SubmitOptions {
  /** Items read but not yet acknowledged; past it the stream stops reading (HTTP/2 flow control). */
  readonly maxInFlight: number;
  /**
   * The server's requests held (grpc-kit's RequestBudget): each item is
   * released once answered, and the stream stops reading while it is full.
   */
  readonly requests?: RequestBudget;
  readonly onUnexpected?: (err: unknown) => void;
  /** How long an acknowledgement waits for the caller to take it (ms) before the stream ends RESOURCE_EXHAUSTED. */
  readonly stallMs: number;
  /**
   * The instance's streams, so that each feed is held back by every stream
   * here that sends it (StreamFeeds); absent, the stream counts alone.
   */
  readonly feeds?: StreamFeeds;
  /** How long the stream keeps holding its feeds back once its sender sends nothing (ms; StreamFeeds). */
  readonly idleMs?: number;
}

/** Processes one submitted item into its acknowledgement; never throws. */
export async function acknowledge(
  deps: IntakeDeps,
  principal: Principal,
  item: intake.SubmitEventsRequest,
  onUnexpected?: (err: unknown) => void,
  feedFloor?: FeedFloor,
  /** Told the feed of an item whose events are stored, by this call or before it (a duplicate). */
  stored?: (feed: string) => void,
): Promise<intake.SubmitEventsResponse> {
  const caseId = item.command?.kind?.value.meta?.caseId ?? '';
  try {
    const r = await executeCommand(deps, principal, item.command ?? { kind: undefined }, feedFloor);
    const first = r.events[0];
    if (first) stored?.(feedOf(first.agencyId, first.caseType));
    return {
      sequence: item.sequence,
      accepted: true,
      caseId: r.caseId,
      version: r.version,
      duplicate: r.duplicate,
      errorCode: '',
      statusCode: 0,
      reason: '',
      index: 0,
    };
  } catch (e) {
    return refusedFor(item, caseId, e, onUnexpected);
  }
}

/** An item's refusal for `e`, echoing its sequence and case: nothing of it stored. */
const refusedFor = (
  item: intake.SubmitEventsRequest,
  caseId: string,
  e: unknown,
  onUnexpected?: (err: unknown) => void,
): intake.SubmitEventsResponse => ({
  sequence: item.sequence,
  caseId,
  version: 0,
  duplicate: false,
  index: 0,
  ...rejection(e, onUnexpected),
});

/**
 * Why a case's later items in a stream are not run, and the command whose
 * coming again frees them (see `unstored` below).
 */
type Held = { why: 'UNAVAILABLE' | 'ABORTED'; commandId: string };

/**
 * The answer to an item behind one of its case that was written for a
 * version the case is no longer at (ABORTED), in a stream or a partition of
 * the ingress (`where` names the refused command there): it was meant to
 * follow that one, so it is not run without it.
 */
export const behindRefused = (
  item: intake.SubmitEventsRequest,
  caseId: string,
  where: string,
  sendAgain: string,
): intake.SubmitEventsResponse => ({
  sequence: item.sequence,
  accepted: false,
  caseId: item.command?.kind?.value.meta?.caseId ?? '',
  version: 0,
  duplicate: false,
  errorCode: 'CASE.VERSION_CONFLICT',
  statusCode: status.ABORTED,
  reason: `an earlier item on case ${caseId} ${where} expected a version the case is no longer at; read the case and ${sendAgain} them again from there, that command first`,
  index: 0,
});

/**
 * The answer to an item behind one of its case that could not be stored
 * (UNAVAILABLE), or that was written for a version the case is no longer at
 * (ABORTED): the items behind it were meant to follow it, so they are not
 * run without it.
 */
const notAfter = (
  item: intake.SubmitEventsRequest,
  caseId: string,
  held: Held,
): intake.SubmitEventsResponse =>
  held.why === 'UNAVAILABLE'
    ? {
        sequence: item.sequence,
        accepted: false,
        caseId: item.command?.kind?.value.meta?.caseId ?? '',
        version: 0,
        duplicate: false,
        errorCode: UNAVAILABLE_CODE,
        statusCode: status.UNAVAILABLE,
        reason: `an earlier item on case ${caseId} in this stream (command ${held.commandId}) could not be stored; send them again from there, that command first`,
        index: 0,
      }
    : behindRefused(item, caseId, `in this stream (command ${held.commandId})`, 'send');

/** The answer to an item received after the stream's token expired: nothing of it is stored. */
const expiredAck = (
  item: intake.SubmitEventsRequest,
  caseId: string,
): intake.SubmitEventsResponse => refusedFor(item, caseId, streamTokenExpired());

/**
 * Waits until the other intake instances can hear of the stream, which its
 * items are not stored before (StreamFeeds.heard): undefined then, or past
 * the stream's `heardWithinMs` the item's UNAVAILABLE answer, nothing of it stored.
 */
async function notHeard(
  floor: StreamFloor,
  item: intake.SubmitEventsRequest,
  caseId: string,
): Promise<intake.SubmitEventsResponse | undefined> {
  const heard = floor.heard();
  if (!heard) return undefined;
  try {
    await withDeadline(
      heard,
      floor.heardWithinMs,
      "sharing this stream's holds with the other intake instances",
    );
    return undefined;
  } catch (e) {
    return refusedFor(item, caseId, e);
  }
}

/** The answer to an item that could not be decoded: it has no sequence or case to echo. */
const undecodableAck = (why: string): intake.SubmitEventsResponse => ({
  sequence: 0,
  accepted: false,
  caseId: '',
  version: 0,
  duplicate: false,
  errorCode: UNDECODABLE_CODE,
  statusCode: status.INVALID_ARGUMENT,
  reason: why,
  index: 0,
});

/**
 * The agency feed: every item is acknowledged, in the order received,
 * accepted with its new version or rejected with code and reason. Items for
 * different cases run concurrently, items for one case in order, and a
 * reconsideration after the items before it on the case it challenges. A bad
 * item never ends the stream.
 */
export function serveSubmitEvents(
  deps: IntakeDeps,
  principal: Principal,
  call: Call,
  opts: SubmitOptions,
): void {
  const acks: Promise<intake.SubmitEventsResponse>[] = [];
  const lastOfCase = new Map<string, Promise<unknown>>();
  let inFlight = 0;
  let ended = false;
  let writing = false;
  let paused = false;
  /** The caller went, or took no acknowledgement for `stallMs`: nothing more is written. */
  let cut = false;

  // The stream reads on while it has fewer than maxInFlight items unanswered
  // and the server's requests held leave room; a stream stopped only for the
  // latter reads on once another call's requests are released.
  const resumeIfRoom = (): void => {
    if (!paused || call.cancelled || inFlight >= opts.maxInFlight) return;
    if (opts.requests?.full) return opts.requests.whenRoom(resumeIfRoom);
    paused = false;
    call.resume();
  };
  const pauseIfFull = (): void => {
    if (paused || !(inFlight >= opts.maxInFlight || opts.requests?.full)) return;
    paused = true;
    call.pause();
    if (inFlight < opts.maxInFlight) opts.requests?.whenRoom(resumeIfRoom);
  };

  const pump = async () => {
    if (writing) return;
    writing = true;
    try {
      while (acks.length > 0) {
        const ack = await (acks[0] as Promise<intake.SubmitEventsResponse>);
        acks.shift();
        inFlight--;
        if (call.cancelled || cut) return;
        if (!call.write(ack)) {
          // A caller that went, or took no acknowledgement for that long, is
          // not waited for (nor written to again): what it sent is stored or
          // refused all the same, and sent again it is answered as a duplicate.
          const how = await drained(call, opts.stallMs);
          if (how !== 'drained') {
            cut = true;
            if (how === 'stalled')
              call.emit(
                'error',
                readerStalled(opts.stallMs, 'send again what has no acknowledgement'),
              );
            return;
          }
        }
        resumeIfRoom();
      }
      if (ended) {
        close();
        call.end();
      }
    } finally {
      writing = false;
    }
  };

  let index = 0;
  /**
   * Cases with an item this stream could not store, a transient fault
   * (UNAVAILABLE) or one that expected another version (ABORTED): every
   * later item of the case was meant to follow it, whether it was received
   * before the answer went out or after, so none runs until the sender sends
   * that command again, by its id, in this stream. Until 2026-12-07 a case
   * answered UNAVAILABLE stayed so for the rest of its stream, its
   * command's resend too, and a sender that retried in the stream it had
   * never got past it.
   */
  const unstored = new Map<string, Held>();
  /**
   * A command's items answered UNAVAILABLE here, by case and command id,
   * while it is not answered otherwise: each holds its feeds at its time
   * until then (or until the stream ends or idles). The earliest is what
   * keeps the items sent after it from being judged past the command, which
   * its resend, sent later in the stream, does not: it came out of order.
   */
  const parkedAs = new Map<string, number[]>();
  const floor = opts.feeds?.open() ?? new StreamFloor();
  // Once the stream has been quiet for MARK_AFTER_QUIET_MS (or ends), each
  // feed is marked as far as it is stored. One timer at a time, not one per
  // item: when it fires it waits out what is left since the stream last moved.
  let quiet: NodeJS.Timeout | undefined;
  let moved = 0;
  let closed = false;
  const publish = (marks: FeedMark[]) => {
    if (marks.length > 0) deps.publisher.mark(marks);
  };
  // Marks are the instance's (StreamFeeds): still right after the stream has
  // closed, once its items still being stored then are.
  const mark = () => {
    clearTimeout(quiet);
    quiet = undefined;
    publish(floor.marks());
  };
  // However the stream ends (its sender ends it, cancels, goes, or it is cut),
  // it stops holding the instance's feeds back, and marks what that lets rise.
  const close = () => {
    if (closed) return;
    closed = true;
    clearTimeout(quiet);
    clearTimeout(idle);
    quiet = undefined;
    publish(floor.close());
  };
  // A sender that sends nothing for idleMs, its stream left open, holds no
  // feed back by what it may send next until it sends again.
  let idle: NodeJS.Timeout | undefined;
  const idleAfter = () => {
    clearTimeout(idle);
    if (opts.idleMs === undefined || closed) return;
    idle = setTimeout(() => publish(floor.idle()), opts.idleMs);
    idle.unref();
  };
  idleAfter();
  call.on('cancelled', close);
  call.on('finish', close);
  call.on('close', close);
  const markWhenQuiet = () => {
    const left = moved + MARK_AFTER_QUIET_MS - Date.now();
    if (left <= 0) return mark();
    quiet = setTimeout(markWhenQuiet, left);
    quiet.unref();
  };
  const movedNow = () => {
    moved = Date.now();
    if (!quiet) markWhenQuiet();
  };
  call.on('data', (item: intake.SubmitEventsRequest) => {
    inFlight++;
    moved = Date.now();
    idleAfter();
    const nth = ++index;
    const why = undecodable(item);
    if (why !== undefined) {
      acks.push(Promise.resolve({ ...undecodableAck(why), index: nth }));
      void pump();
      return;
    }
    opts.requests?.takeItem(item);
    // The case, and the case a reconsideration challenges, as stored.
    const { caseId, commandId, target } = caseKeysOf(item.command?.kind);
    // Judged when it arrives: an item sent under a valid token is stored even
    // if it waits behind its case past the token's expiry.
    const lapsed = !stillValid(principal);
    floor.received(nth, item.command?.kind?.value.meta?.occurredAt ?? new Date());
    // A reconsideration also waits for what came before it on the case it
    // challenges: the stream's order is the agency's order across cases too.
    const before = Promise.all([lastOfCase.get(caseId), target && lastOfCase.get(target)]);
    let storedAs: string | undefined;
    const ack = before.then(async () => {
      // After an item of this case (or of the case it challenges) could not
      // be stored, the ones behind it are not run out of order: they get the
      // same UNAVAILABLE, and the client sends them again after it.
      // The command that held its case sent again: what follows it may run again.
      if (unstored.get(caseId)?.commandId === commandId) unstored.delete(caseId);
      const blocked = [caseId, target].find((id) => id && unstored.has(id));
      const by = blocked ? unstored.get(blocked) : undefined;
      const a = lapsed
        ? expiredAck(item, caseId)
        : by
          ? notAfter(item, blocked ?? caseId, by)
          : ((await notHeard(floor, item, caseId)) ??
            (await acknowledge(
              deps,
              principal,
              item,
              opts.onUnexpected,
              (t, feed) => floor.of(nth, t, feed),
              (feed) => (storedAs = feed),
            )));
      const command = `${caseId}\u0000${commandId}`;
      if (a.statusCode === status.UNAVAILABLE) {
        floor.parked(nth);
        parkedAs.set(command, [...(parkedAs.get(command) ?? []), nth]);
      } else {
        // Stored or refused, the command holds nothing by its earlier items here.
        for (const earlier of parkedAs.get(command) ?? []) floor.settled(earlier);
        parkedAs.delete(command);
        floor.settled(nth, a.accepted ? storedAs : undefined);
      }
      movedNow();
      if (!unstored.has(caseId)) {
        if (a.statusCode === status.UNAVAILABLE)
          unstored.set(caseId, { why: 'UNAVAILABLE', commandId });
        else if (a.statusCode === status.ABORTED && !blocked)
          unstored.set(caseId, { why: 'ABORTED', commandId });
      }
      return { ...a, index: nth };
    });
    // A reconsideration is also the last item of the case it challenges: a
    // later item of that case waits for it (a resent command that releases
    // the case's hold must not run before it).
    const lines = target ? [caseId, target] : [caseId];
    for (const id of lines) lastOfCase.set(id, ack);
    void ack.finally(() => {
      opts.requests?.release(item);
      for (const id of lines) if (lastOfCase.get(id) === ack) lastOfCase.delete(id);
    });
    acks.push(ack);
    pauseIfFull();
    void pump();
  });
  call.on('end', () => {
    ended = true;
    void pump();
  });
  call.on('error', () => undefined);
}
