import { Fragment } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { apiGet, projectPath, query } from '../api.js';
import {
  CheckField,
  CheckGroup,
  ErrorBox,
  LevelBadge,
  Loading,
  SelectField,
  TextField,
  limitOptions,
  useLoad,
  useRoving,
} from '../components/common.jsx';
import { Pager, PageSummary, listingKey, previousCursor, rememberPage } from '../components/paging.jsx';
import { fmtTime } from '../format.js';
import { href, navigate, traceHref } from '../route.js';
import { EventLogDetail } from './eventlog.jsx';

const LEVELS = ['DEBUG', 'INFO', 'WARN', 'ERROR'];
const TEXT_FILTERS = ['type', 'userId', 'integrationId', 'workflowId', 'traceId', 'afterDate', 'beforeDate', 'q'];
const DEFAULT_LIMIT = '50';

function formFromParams(params) {
  const f = {};
  for (const k of TEXT_FILTERS) f[k] = params.get(k) || '';
  f.level = (params.get('level') || '')
    .split(',')
    .map((s) => s.trim().toUpperCase())
    .filter((s) => LEVELS.includes(s));
  f.sortBy = (params.get('sortBy') || 'DESC').toUpperCase() === 'ASC' ? 'ASC' : 'DESC';
  f.limit = params.get('limit') || DEFAULT_LIMIT;
  f.count = params.get('count') !== 'false';
  f.includeBody = params.get('includeBody') !== 'false';
  return f;
}

function paramsFromForm(f) {
  const p = {};
  for (const k of TEXT_FILTERS) p[k] = (f[k] || '').trim();
  p.level = f.level.join(',');
  if (f.sortBy !== 'DESC') p.sortBy = f.sortBy;
  if (f.limit !== DEFAULT_LIMIT) p.limit = f.limit;
  if (!f.count) p.count = 'false';
  if (!f.includeBody) p.includeBody = 'false';
  return p;
}

const noun = (n) => (n === 1 ? 'event log' : 'event logs');

export function EventLogs({ route }) {
  const { project, params } = route;
  const qs = params.toString();
  const [form, setForm] = useState(() => formFromParams(params));
  useEffect(() => setForm(formFromParams(params)), [qs]);
  const applied = formFromParams(params);
  const cursor = params.get('cursor') || '';
  const key = listingKey('event-logs', params);

  const res = useLoad(
    async (signal) => {
      const q = paramsFromForm(applied);
      q.sortBy = applied.sortBy;
      q.limit = applied.limit;
      q.count = !cursor && applied.count ? 'true' : '';
      q.cursor = cursor;
      const d = await apiGet(projectPath(project, `/event-logs${query(q)}`), { signal });
      rememberPage(key, cursor, d);
      return { ...d, items: d.eventLogs || [] };
    },
    [project, qs],
  );

  const set = (k) => (v) => setForm({ ...form, [k]: v });
  const submit = (e) => {
    e.preventDefault();
    navigate(href(project, 'event-logs', paramsFromForm(form)));
  };
  const go = (c) => navigate(href(project, 'event-logs', { ...Object.fromEntries(params), cursor: c }));

  return (
    <section aria-labelledby="view-title">
      <h1 id="view-title" tabIndex={-1}>
        Event logs
      </h1>
      <form class="filters" onSubmit={submit} aria-label="Event log filters">
        <TextField name="type" label="Type" value={form.type} onInput={set('type')} hint="comma-separated, e.g. WEBHOOK_TRIGGER" />
        <TextField name="userId" label="End user id" value={form.userId} onInput={set('userId')} />
        <TextField name="integrationId" label="Integration" value={form.integrationId} onInput={set('integrationId')} hint="comma-separated" />
        <TextField name="workflowId" label="Workflow id" value={form.workflowId} onInput={set('workflowId')} />
        <TextField name="traceId" label="Trace id" value={form.traceId} onInput={set('traceId')} />
        <TextField name="afterDate" label="On or after (UTC)" value={form.afterDate} onInput={set('afterDate')} placeholder="2026-11-01 or 2026-11-01T08:00:00Z" />
        <TextField name="beforeDate" label="Before (UTC)" value={form.beforeDate} onInput={set('beforeDate')} placeholder="2026-11-02" />
        <TextField name="q" label="Keywords" value={form.q} onInput={set('q')} hint="exact tokens of payload, message or error" wide />
        <CheckGroup name="level" legend="Level" options={LEVELS} values={form.level} onChange={set('level')} badge={(l) => <LevelBadge level={l} />} />
        <SelectField name="sortBy" label="Order" value={form.sortBy} onChange={set('sortBy')} options={[['DESC', 'Newest first'], ['ASC', 'Oldest first']]} />
        <SelectField name="limit" label="Page size" value={form.limit} onChange={set('limit')} options={limitOptions(form.limit)} />
        <CheckField name="count" label="Count all matches" checked={form.count} onChange={set('count')} />
        <CheckField name="includeBody" label="Include payloads" checked={form.includeBody} onChange={set('includeBody')} />
        <div class="actions">
          <button type="submit" class="primary">
            Apply filters
          </button>
          <button type="button" onClick={() => navigate(href(project, 'event-logs'))}>
            Clear
          </button>
        </div>
      </form>

      <div class="results" data-query={qs} aria-busy={res.loading ? 'true' : 'false'} data-state={res.loading ? 'loading' : res.error ? 'error' : 'done'}>
        {res.loading && <Loading what="Loading event logs" />}
        {res.error && <ErrorBox error={res.error} project={project} onRetry={res.reload} />}
        {res.data && (
          <>
            <PageSummary key_={key} cursor={cursor} data={res.data} noun={noun} count={applied.count} />
            {res.data.items.length ? (
              <LogTable project={project} items={res.data.items} bodiesLeftOut={!applied.includeBody} />
            ) : (
              !res.data.partial && <p class="empty">No event logs match these filters.</p>
            )}
            <Pager cursor={cursor} prev={previousCursor(key, cursor)} next={res.data.nextCursor} onGo={go} partial={res.data.partial} />
          </>
        )}
      </div>
    </section>
  );
}

function LogTable({ project, items, bodiesLeftOut }) {
  const roving = useRoving(items.length);
  const [open, setOpen] = useState(() => new Set());
  const toggle = (id) => {
    const next = new Set(open);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setOpen(next);
  };
  return (
    <div class="table-wrap">
      <table class="list" id="event-logs-table">
        <caption>
          Event logs <span class="muted small">— Tab to the list, ↑ ↓ to move, Enter to expand</span>
        </caption>
        <thead>
          <tr>
            <th scope="col">Level</th>
            <th scope="col">Time (UTC)</th>
            <th scope="col">Type</th>
            <th scope="col">Message</th>
            <th scope="col">End user</th>
            <th scope="col">Integration</th>
            <th scope="col">Trace</th>
          </tr>
        </thead>
        <tbody ref={roving.ref} onKeyDown={roving.onKeyDown}>
          {items.map((l, i) => {
            const expanded = open.has(l.id);
            return (
              <Fragment key={l.id}>
                <tr
                  class={`row${expanded ? ' expanded' : ''}`}
                  data-id={l.id}
                  data-level={l.level}
                  aria-expanded={expanded ? 'true' : 'false'}
                  aria-controls={`log-${i}`}
                  onClick={(e) => {
                    if (!e.target.closest('a')) toggle(l.id);
                  }}
                  onKeyDown={(e) => {
                    if ((e.key === 'Enter' || e.key === ' ') && e.target === e.currentTarget) {
                      e.preventDefault();
                      toggle(l.id);
                    }
                  }}
                  {...roving.itemProps(i)}
                >
                  <td>
                    <span class="chevron" aria-hidden="true">
                      {expanded ? '▾' : '▸'}
                    </span>{' '}
                    <LevelBadge level={l.level} />
                  </td>
                  <td class="nowrap">{fmtTime(l.timestamp, { ms: true })}</td>
                  <td>{l.type}</td>
                  <td>{l.message}</td>
                  <td>{l.endUserId || '—'}</td>
                  <td>{l.integrationId || '—'}</td>
                  <td>
                    {l.traceId ? (
                      <a href={traceHref(project, l.traceId)} tabIndex={-1}>
                        {l.traceId.length > 18 ? `${l.traceId.slice(0, 16)}…` : l.traceId}
                      </a>
                    ) : (
                      '—'
                    )}
                  </td>
                </tr>
                {expanded && (
                  <tr class="detail-row" id={`log-${i}`}>
                    <td colSpan={7}>
                      <EventLogDetail project={project} log={l} bodiesLeftOut={bodiesLeftOut} />
                    </td>
                  </tr>
                )}
              </Fragment>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
