// Hash routing: the hash holds the project, the view and every filter, so a view can be shared and reloaded.
//   #/projects/{p}/executions?status=FAILED&userId=u1
//   #/projects/{p}/executions/{id}[/steps/{stepId}]
//   #/projects/{p}/traces[/{traceId}]
//   #/projects/{p}/event-logs?level=ERROR
//   #/projects/{p}/stats?afterDate=...

import { useEffect, useState } from 'preact/hooks';

const dec = (s) => {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
};

export function parseHash(hash) {
  const h = (hash || '').replace(/^#/, '');
  const qi = h.indexOf('?');
  const path = qi >= 0 ? h.slice(0, qi) : h;
  const params = new URLSearchParams(qi >= 0 ? h.slice(qi + 1) : '');
  const parts = path.split('/').filter(Boolean).map(dec);
  const r = { view: 'setup', project: '', params, hash: h };
  if (parts[0] !== 'projects' || !parts[1]) return r;
  r.project = parts[1];
  const [, , view, a, b, c] = parts;
  if (!view || view === 'executions') {
    if (a) {
      r.view = 'execution';
      r.executionId = a;
      if (b === 'steps' && c) r.stepId = c;
    } else r.view = 'executions';
  } else if (view === 'traces') {
    r.view = 'trace';
    r.traceId = a || '';
  } else if (view === 'event-logs') r.view = 'event-logs';
  else if (view === 'stats') r.view = 'stats';
  else r.view = 'not-found';
  return r;
}

const e = encodeURIComponent;

// Builds a hash; params is an object or URLSearchParams, empty values left out.
export function href(project, path = 'executions', params) {
  let q = '';
  if (params) {
    const sp = new URLSearchParams();
    const entries = params instanceof URLSearchParams ? params.entries() : Object.entries(params);
    for (const [k, v] of entries) if (v !== undefined && v !== null && v !== '') sp.set(k, String(v));
    q = sp.toString();
  }
  return `#/projects/${e(project)}/${path}${q ? `?${q}` : ''}`;
}

export const executionHref = (p, id) => href(p, `executions/${e(id)}`);
export const stepHref = (p, id, stepId) => href(p, `executions/${e(id)}/steps/${e(stepId)}`);
export const traceHref = (p, traceId) => href(p, `traces/${e(traceId)}`);

export function navigate(hash, { replace = false } = {}) {
  if (replace) {
    history.replaceState(null, '', hash);
    window.dispatchEvent(new HashChangeEvent('hashchange'));
  } else location.hash = hash;
}

export function useRoute() {
  const [route, setRoute] = useState(() => parseHash(location.hash));
  useEffect(() => {
    const on = () => setRoute((r) => (r.hash === location.hash.replace(/^#/, '') ? r : parseHash(location.hash)));
    window.addEventListener('hashchange', on);
    on(); // a change made before this listener existed
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return route;
}
