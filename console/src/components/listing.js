// What the two listings (executions, event logs) share: the filter form held in the URL, one page
// loaded by cursor, and the first page's total.
import { useEffect, useState } from 'preact/hooks';
import { apiGet, projectPath, query } from '../api.js';
import { useLoad } from './common.jsx';
import { listingKey, rememberPage } from './paging.jsx';
import { href, navigate } from '../route.js';

export const DEFAULT_LIMIT = '50';

// A listing's form: text filters, one multi-choice filter (`choice` from `choices`), sort order,
// page size and the on-by-default flags (e.g. `count`), each read from and written to the URL.
export function listingForm({ text, choice, choices, flags }) {
  const fromParams = (params) => {
    const f = {};
    for (const k of text) f[k] = params.get(k) || '';
    f[choice] = (params.get(choice) || '')
      .split(',')
      .map((s) => s.trim().toUpperCase())
      .filter((s) => choices.includes(s));
    f.sortBy = (params.get('sortBy') || 'DESC').toUpperCase() === 'ASC' ? 'ASC' : 'DESC';
    f.limit = params.get('limit') || DEFAULT_LIMIT;
    for (const flag of flags) f[flag] = params.get(flag) !== 'false';
    return f;
  };
  const toParams = (f) => {
    const p = {};
    for (const k of text) p[k] = (f[k] || '').trim();
    p[choice] = f[choice].join(',');
    if (f.sortBy !== 'DESC') p.sortBy = f.sortBy;
    if (f.limit !== DEFAULT_LIMIT) p.limit = f.limit;
    for (const flag of flags) if (!f[flag]) p[flag] = 'false';
    return p;
  };
  return { fromParams, toParams };
}

// State of a listing view: the form being edited, the page the URL asks for (`path` below the
// project, its items under `list` in the answer), and how to apply the form or go to a cursor.
export function useListing({ project, params, view, path, list, form: spec }) {
  const qs = params.toString();
  const [form, setForm] = useState(() => spec.fromParams(params));
  useEffect(() => setForm(spec.fromParams(params)), [qs]);
  const applied = spec.fromParams(params);
  const cursor = params.get('cursor') || '';
  const key = listingKey(view, params);

  const res = useLoad(
    async (signal) => {
      const q = spec.toParams(applied);
      q.sortBy = applied.sortBy;
      q.limit = applied.limit;
      q.count = !cursor && applied.count ? 'true' : '';
      q.cursor = cursor;
      const d = await apiGet(projectPath(project, `${path}${query(q)}`), { signal });
      rememberPage(key, cursor, d);
      return { ...d, items: d[list] || [] };
    },
    [project, qs],
  );

  const set = (k) => (v) => setForm({ ...form, [k]: v });
  const submit = (e) => {
    e.preventDefault();
    navigate(href(project, view, spec.toParams(form)));
  };
  const go = (c) => navigate(href(project, view, { ...Object.fromEntries(params), cursor: c }));
  return { qs, form, applied, cursor, key, res, set, submit, go };
}
