import {
  createContext,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useRef,
  useState,
  type ReactNode,
} from 'react';
import { SESSION_ENDED } from './api.js';
import type { CaseScore, Order } from './types.js';

type Listener = {
  order?: (o: Order) => void;
  score?: (s: CaseScore) => void;
  /**
   * The feeds are up (again): updates sent while they were not never reach
   * the page, so what it listed before may be behind. Not called for a
   * listener that subscribed while they were up.
   */
  resumed?: () => void;
};

interface Live {
  readonly up: boolean;
  subscribe(l: Listener): () => void;
}

const LiveContext = createContext<Live>({ up: false, subscribe: () => () => undefined });

/** The feeds from scoring the backend reports on (see server/live.ts). */
const FEEDS: ReadonlySet<string> = new Set(['orders', 'scores']);

/** One Server-Sent Events connection per page load, shared by every part of the page. */
export function LiveProvider({ children }: { children: ReactNode }) {
  const listeners = useRef(new Set<Listener>());
  const [connected, setConnected] = useState(false);
  // Scoring's feeds not confirmed up: the page is live when none is.
  const [down, setDown] = useState<ReadonlySet<string>>(FEEDS);
  useEffect(() => {
    const source = new EventSource('/api/live');
    source.addEventListener('open', () => {
      setConnected(true);
      setDown(FEEDS);
    });
    source.addEventListener('error', () => setConnected(false));
    source.addEventListener('status', (e) => {
      const s = JSON.parse((e as MessageEvent<string>).data) as { feed: string; up: boolean };
      if (s.feed === 'live') return setConnected(s.up);
      setDown((was) => {
        const now = new Set(was);
        if (s.up) now.delete(s.feed);
        else now.add(s.feed);
        return now;
      });
    });
    // The session is over: reconnecting would be refused, so the page signs in again.
    source.addEventListener('session', () => {
      source.close();
      setConnected(false);
      window.dispatchEvent(new Event(SESSION_ENDED));
    });
    source.addEventListener('order', (e) => {
      const o = JSON.parse((e as MessageEvent<string>).data) as Order;
      for (const l of listeners.current) l.order?.(o);
    });
    source.addEventListener('score', (e) => {
      const s = JSON.parse((e as MessageEvent<string>).data) as CaseScore;
      for (const l of listeners.current) l.score?.(s);
    });
    return () => source.close();
  }, []);
  const subscribe = useCallback((l: Listener) => {
    listeners.current.add(l);
    return () => {
      listeners.current.delete(l);
    };
  }, []);
  const up = connected && down.size === 0;
  // Each time the feeds come up, the first time included (a page's first
  // lists may have been read before its watches were subscribed).
  const wasUp = useRef(false);
  useEffect(() => {
    if (up && !wasUp.current) for (const l of listeners.current) l.resumed?.();
    wasUp.current = up;
  }, [up]);
  const value = useMemo<Live>(() => ({ up, subscribe }), [up, subscribe]);
  return <LiveContext.Provider value={value}>{children}</LiveContext.Provider>;
}

export const useLive = () => useContext(LiveContext);

/** Calls `l` for each live update, and when the feeds come back, while the component is shown. */
export function useLiveUpdates(l: Listener): void {
  const { subscribe } = useLive();
  const latest = useRef(l);
  latest.current = l;
  useEffect(
    () =>
      subscribe({
        order: (o) => latest.current.order?.(o),
        score: (s) => latest.current.score?.(s),
        resumed: () => latest.current.resumed?.(),
      }),
    [subscribe],
  );
}
