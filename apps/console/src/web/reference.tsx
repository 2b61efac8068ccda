import { createContext, useContext, useEffect, useState, type ReactNode } from 'react';
import { get } from './api.js';
import type { Reference } from './types.js';

const ReferenceContext = createContext<Reference>({ agencies: [], districts: [] });

/** The city's agencies and districts, for names and filters. */
export function ReferenceProvider({ children }: { children: ReactNode }) {
  const [ref, setRef] = useState<Reference>({ agencies: [], districts: [] });
  useEffect(() => {
    get<Reference>('/api/reference').then(setRef, () => undefined);
  }, []);
  return <ReferenceContext.Provider value={ref}>{children}</ReferenceContext.Provider>;
}

export function useReference() {
  const ref = useContext(ReferenceContext);
  return {
    ...ref,
    agencyName: (id: string | undefined) =>
      ref.agencies.find((a) => a.id === id)?.name ?? id ?? '—',
  };
}
