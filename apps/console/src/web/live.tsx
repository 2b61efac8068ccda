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
import type { CaseScore, Order } from './types.js';

type Listener = { order?: (o: Order) => void; score?: (s: CaseScore) => void };

interface Live {
  readonly up: boolean;
  subscribe(l: Listener): () => void;
}

const LiveContext = createContext<Live>({ up: false, subscribe: () => () => undefined });

/** One Server-Sent Events connection per page load, shared by every part of the page. */
export function LiveProvider({ children }: { children: ReactNode }) {
  const listeners = useRef(new Set<Listener>());
  const [up, setUp] = useState(false);
  useEffect(() => {
    const source = new EventSource('/api/live');
    source.addEventListener('open', () => setUp(true));
    source.addEventListener('error', () => setUp(false));
    source.addEventListener('status', (e) => {
      const s = JSON.parse((e as MessageEvent<string>).data) as { up: boolean };
      setUp(s.up);
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
  const value = useMemo<Live>(() => ({ up, subscribe }), [up, subscribe]);
  return <LiveContext.Provider value={value}>{children}</LiveContext.Provider>;
}

export const useLive = () => useContext(LiveContext);

/** Calls `l` for each live update while the component is shown. */
export function useLiveUpdates(l: Listener): void {
  const { subscribe } = useLive();
  const latest = useRef(l);
  latest.current = l;
  useEffect(
    () =>
      subscribe({
        order: (o) => latest.current.order?.(o),
        score: (s) => latest.current.score?.(s),
      }),
    [subscribe],
  );
}
