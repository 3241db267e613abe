import { useEffect, useState } from 'preact/hooks';
import { apiGet, projectPath, query } from '../api.js';
import { Chart, colorFor, durationLines, stackedBars } from '../charts.jsx';
import { CheckGroup, FormActions, Results, SelectField, StatusBadge, TextField, useLoad } from '../components/common.jsx';
import { fmtDuration, fmtInt, fmtTime, utcDate } from '../format.js';
import { href, navigate } from '../route.js';
import { STATUSES } from './executions.jsx';

const TEXT_FILTERS = ['integration', 'userId', 'workflowId', 'triggerType', 'afterDate', 'beforeDate'];
const GROUP_BY = [
  ['status', 'Status'],
  ['integration', 'Integration'],
  ['workflowId', 'Workflow'],
  ['triggerType', 'Trigger type'],
  ['userId', 'User'],
];
const STACK_ORDER = ['SUCCEEDED', 'FAILED', 'CANCELLED', 'RUNNING', 'QUEUED'];

function formFromParams(params) {
  const f = {};
  for (const k of TEXT_FILTERS) f[k] = params.get(k) || '';
  f.status = (params.get('status') || '')
    .split(',')
    .map((s) => s.trim().toUpperCase())
    .filter((s) => STATUSES.includes(s));
  f.interval = params.get('interval') === 'hour' ? 'hour' : 'day';
  f.groupBy = GROUP_BY.some(([g]) => g === params.get('groupBy')) ? params.get('groupBy') : 'status';
  return f;
}

function paramsFromForm(f) {
  const p = {};
  for (const k of TEXT_FILTERS) p[k] = (f[k] || '').trim();
  p.status = f.status.join(',');
  p.interval = f.interval;
  p.groupBy = f.groupBy;
  return p;
}

// A group's key: a status or dimension value; null for executions without a value.
const keyName = (k) => (k === null || k === undefined ? '(none)' : String(k));

// Totals, counts per status and duration percentiles per bucket, from the stats response.
export function summarize(d, groupBy) {
  const buckets = (d.buckets || []).slice().sort((a, b) => Date.parse(a.start) - Date.parse(b.start));
  const byStatus = {};
  let total = 0;
  const groupKeys = [];
  const rows = buckets.map((b) => {
    let count = 0;
    const st = {};
    for (const g of b.groups || []) {
      count += g.count || 0;
      const bs = g.byStatus || (groupBy === 'status' ? { [String(g.key).toUpperCase()]: g.count } : {});
      for (const [s, n] of Object.entries(bs)) {
        const k = s.toUpperCase();
        st[k] = (st[k] || 0) + (n || 0);
        byStatus[k] = (byStatus[k] || 0) + (n || 0);
      }
      if (g.duration && !groupKeys.includes(keyName(g.key))) groupKeys.push(keyName(g.key));
    }
    total += count;
    return { start: b.start, t: Date.parse(b.start), count, byStatus: st, groups: b.groups || [] };
  });
  return { rows, total, byStatus, groupKeys };
}

function upperPercentile(rows) {
  for (const p of ['p95', 'p99', 'p90'])
    if (rows.some((r) => r.groups.some((g) => g.duration && typeof g.duration[p] === 'number'))) return p;
  return 'p95';
}

function axis(rows, stepSec, afterDate, beforeDate) {
  const set = new Set(rows.map((r) => r.t / 1000));
  const a = Date.parse(afterDate.length === 10 ? `${afterDate}T00:00:00Z` : afterDate);
  const b = Date.parse(beforeDate.length === 10 ? `${beforeDate}T00:00:00Z` : beforeDate);
  if (Number.isFinite(a) && Number.isFinite(b) && b > a && (b - a) / 1000 / stepSec <= 3000) {
    const first = Math.floor(a / 1000 / stepSec) * stepSec;
    for (let t = first; t * 1000 < b; t += stepSec) set.add(t);
  }
  const xs = [...set].sort((x, y) => x - y);
  return xs.length ? xs : [Math.floor(Date.now() / 1000 / stepSec) * stepSec];
}

export function Stats({ route }) {
  const { project, params } = route;
  const qs = params.toString();
  const complete = params.get('afterDate') && params.get('beforeDate');
  useEffect(() => {
    if (!complete) {
      const p = Object.fromEntries(params);
      navigate(
        href(project, 'stats', {
          afterDate: utcDate(-29),
          beforeDate: utcDate(1),
          interval: 'day',
          groupBy: 'status',
          ...p,
        }),
        { replace: true },
      );
    }
  }, [qs]);
  const [form, setForm] = useState(() => formFromParams(params));
  useEffect(() => setForm(formFromParams(params)), [qs]);
  const applied = formFromParams(params);

  const res = useLoad(
    (signal) =>
      complete ? apiGet(projectPath(project, `/stats${query(paramsFromForm(applied))}`), { signal }) : new Promise(() => {}),
    [project, qs],
  );
  const set = (k) => (v) => setForm({ ...form, [k]: v });
  const submit = (e) => {
    e.preventDefault();
    navigate(href(project, 'stats', paramsFromForm(form)));
  };

  return (
    <section aria-labelledby="view-title">
      <h1 id="view-title" tabIndex={-1}>
        Stats
      </h1>
      <form class="filters" onSubmit={submit} aria-label="Stats filters">
        <TextField name="integration" label="Integration" value={form.integration} onInput={set('integration')} hint="comma-separated" />
        <TextField name="userId" label="User id" value={form.userId} onInput={set('userId')} />
        <TextField name="workflowId" label="Workflow id" value={form.workflowId} onInput={set('workflowId')} />
        <TextField name="triggerType" label="Trigger type" value={form.triggerType} onInput={set('triggerType')} />
        <TextField name="afterDate" label="From (UTC, inclusive)" value={form.afterDate} onInput={set('afterDate')} placeholder="2026-11-01" />
        <TextField name="beforeDate" label="Until (UTC, exclusive)" value={form.beforeDate} onInput={set('beforeDate')} placeholder="2026-12-01" />
        <CheckGroup name="status" legend="Status" options={STATUSES} values={form.status} onChange={set('status')} badge={(s) => <StatusBadge status={s} />} />
        <SelectField name="interval" label="Interval" value={form.interval} onChange={set('interval')} options={[['day', 'Per day'], ['hour', 'Per hour']]} />
        <SelectField name="groupBy" label="Durations by" value={form.groupBy} onChange={set('groupBy')} options={GROUP_BY} />
        <p class="hint form-note" id="stats-note">
          Stats take one of integration, user, workflow and trigger type besides status: as a filter, as “Durations by”,
          or both the same. A range covers up to 366 days per day, 7 days per hour.
        </p>
        <FormActions onClear={() => navigate(href(project, 'stats'))} />
      </form>
      <Results qs={qs} res={res} what="Loading stats" project={project} render={(data) => <StatsResult data={data} applied={applied} />} />
    </section>
  );
}

function StatsResult({ data, applied }) {
  const interval = data.interval || applied.interval;
  const groupBy = data.groupBy || applied.groupBy;
  const stepSec = interval === 'hour' ? 3600 : 86400;
  const s = summarize(data, groupBy);
  // The whole intervals the response covers, when it says so; else the requested range.
  const from = data.afterDate || applied.afterDate;
  const until = data.beforeDate || applied.beforeDate;
  const xs = axis(s.rows, stepSec, from, until);
  const index = new Map(s.rows.map((r) => [r.t / 1000, r]));
  const statuses = [
    ...STACK_ORDER.filter((k) => s.byStatus[k]),
    ...Object.keys(s.byStatus).filter((k) => !STACK_ORDER.includes(k) && s.byStatus[k]),
  ];
  const stacks = statuses.map((st, i) => ({
    label: st,
    color: colorFor(st, i),
    values: xs.map((x) => (index.get(x) ? index.get(x).byStatus[st] || 0 : 0)),
  }));
  const upper = upperPercentile(s.rows);
  const lines = [];
  s.groupKeys.forEach((key, i) => {
    const color = colorFor(groupBy === 'status' ? key.toUpperCase() : key, i);
    for (const [p, dash] of [
      ['p50', undefined],
      [upper, [6, 4]],
    ]) {
      lines.push({
        label: `${key} ${p}`,
        color,
        dash,
        values: xs.map((x) => {
          const r = index.get(x);
          const g = r && r.groups.find((gg) => keyName(gg.key) === key);
          const v = g && g.duration ? g.duration[p] : null;
          return typeof v === 'number' ? v : null;
        }),
      });
    }
  });
  const per = interval === 'hour' ? 'hour' : 'day';
  const active = s.rows.filter((r) => r.count > 0).length;
  const relErrs = s.rows.flatMap((r) => r.groups.map((g) => g.duration && g.duration.relativeError)).filter((x) => typeof x === 'number');
  const relErr = relErrs.length ? Math.max(...relErrs) : null;
  const key = JSON.stringify(data);

  return (
    <>
      <div class="stats-summary">
        <p id="stats-total" data-total={s.total}>
          <strong>{fmtInt(s.total)}</strong> execution{s.total === 1 ? '' : 's'} started from {fmtTime(from).replace(' 00:00:00', '')} until{' '}
          {fmtTime(until).replace(' 00:00:00', '')} (UTC), in {fmtInt(active)} {per}
          {active === 1 ? '' : 's'} with executions.
        </p>
        <ul class="chips" id="stats-by-status" aria-label="Executions by status">
          {statuses.map((st) => (
            <li key={st} data-status={st} data-count={s.byStatus[st]}>
              <StatusBadge status={st} /> {fmtInt(s.byStatus[st])}
            </li>
          ))}
        </ul>
      </div>
      <section class="panel" aria-labelledby="counts-title">
        <h2 id="counts-title">Executions per {per}, by status</h2>
        {s.total ? (
          <Chart
            id="chart-counts"
            deps={[key, 'counts']}
            label={`Bar chart: executions per ${per} stacked by status, ${s.total} in all`}
            build={(width) => stackedBars({ width, xs, stepSec, stacks })}
          />
        ) : (
          <p class="empty">No executions in this range.</p>
        )}
      </section>
      <section class="panel" aria-labelledby="dur-title">
        <h2 id="dur-title">
          Duration per {per}: p50 (solid) and {upper} (dashed), by {groupBy}
        </h2>
        {relErr !== null && (
          <p class="muted small">Percentiles are estimates within ±{+(relErr * 100).toFixed(2)} % of the true value.</p>
        )}
        {lines.length ? (
          <Chart
            id="chart-durations"
            deps={[key, 'durations']}
            label={`Line chart: p50 and ${upper} of execution durations per ${per}`}
            build={(width) => durationLines({ width, xs, stepSec, lines, fmt: fmtDuration })}
          />
        ) : (
          <p class="empty">No execution finished in this range: no durations.</p>
        )}
      </section>
      <details class="panel">
        <summary>The numbers as a table</summary>
        <div class="table-wrap">
          <table class="list" id="stats-table">
            <caption>
              Executions and durations per {per} and {groupBy}
            </caption>
            <thead>
              <tr>
                <th scope="col">Start (UTC)</th>
                <th scope="col">{groupBy}</th>
                <th scope="col">Executions</th>
                <th scope="col">By status</th>
                <th scope="col">p50</th>
                <th scope="col">p90</th>
                <th scope="col">p95</th>
                <th scope="col">p99</th>
              </tr>
            </thead>
            <tbody>
              {s.rows.flatMap((r) =>
                r.groups.map((g) => (
                  <tr key={`${r.start}-${keyName(g.key)}`}>
                    <td class="nowrap">{fmtTime(r.start).slice(0, interval === 'hour' ? 16 : 10)}</td>
                    <td>{keyName(g.key)}</td>
                    <td class="num">{fmtInt(g.count)}</td>
                    <td>
                      {Object.entries(g.byStatus || {})
                        .map(([k, n]) => `${k} ${n}`)
                        .join(', ')}
                    </td>
                    {['p50', 'p90', 'p95', 'p99'].map((p) => (
                      <td class="num" key={p}>
                        {g.duration && typeof g.duration[p] === 'number' ? fmtDuration(g.duration[p]) : '—'}
                      </td>
                    ))}
                  </tr>
                )),
              )}
            </tbody>
          </table>
        </div>
      </details>
    </>
  );
}

