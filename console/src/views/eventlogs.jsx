import { Fragment } from 'preact';
import { useState } from 'preact/hooks';
import {
  CheckField,
  CheckGroup,
  FormActions,
  LevelBadge,
  Results,
  SelectField,
  TextField,
  limitOptions,
  useRoving,
} from '../components/common.jsx';
import { listingForm, useListing } from '../components/listing.js';
import { Pager, PageSummary, previousCursor } from '../components/paging.jsx';
import { fmtTime } from '../format.js';
import { href, navigate, traceHref } from '../route.js';
import { EventLogDetail } from './eventlog.jsx';

const LEVELS = ['DEBUG', 'INFO', 'WARN', 'ERROR'];
const TEXT_FILTERS = ['type', 'userId', 'integrationId', 'workflowId', 'traceId', 'afterDate', 'beforeDate', 'q'];
const FORM = listingForm({ text: TEXT_FILTERS, choice: 'level', choices: LEVELS, flags: ['count', 'includeBody'] });

const noun = (n) => (n === 1 ? 'event log' : 'event logs');

export function EventLogs({ route }) {
  const { project, params } = route;
  const { qs, form, applied, cursor, key, res, set, submit, go } = useListing({
    project,
    params,
    view: 'event-logs',
    path: '/event-logs',
    list: 'eventLogs',
    form: FORM,
  });

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
        <FormActions onClear={() => navigate(href(project, 'event-logs'))} />
      </form>

      <Results
        qs={qs}
        res={res}
        what="Loading event logs"
        project={project}
        render={(data) => (
          <>
            <PageSummary key_={key} cursor={cursor} data={data} noun={noun} count={applied.count} />
            {data.items.length ? (
              <LogTable project={project} items={data.items} bodiesLeftOut={!applied.includeBody} />
            ) : (
              !data.partial && <p class="empty">No event logs match these filters.</p>
            )}
            <Pager cursor={cursor} prev={previousCursor(key, cursor)} next={data.nextCursor} onGo={go} partial={data.partial} />
          </>
        )}
      />
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
