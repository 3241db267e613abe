import { useEffect, useState } from 'preact/hooks';
import { apiGet, enc, projectPath } from '../api.js';
import { ErrorBox, LevelBadge, Loading, StatusBadge, TextField, useLoad } from '../components/common.jsx';
import { Timeline } from '../components/timeline.jsx';
import { endTime, fmtInt } from '../format.js';
import { executionHref, href, navigate, traceHref } from '../route.js';
import { EventLogDetail } from './eventlog.jsx';

const LEVEL_STATUS = { ERROR: 'FAILED', WARN: 'CANCELLED', INFO: 'RUNNING', DEBUG: 'QUEUED' };

function TraceForm({ project, traceId }) {
  const [value, setValue] = useState(traceId || '');
  useEffect(() => setValue(traceId || ''), [traceId]);
  return (
    <form
      class="filters compact"
      aria-label="Open a trace"
      onSubmit={(e) => {
        e.preventDefault();
        if (value.trim()) navigate(traceHref(project, value.trim()));
      }}
    >
      <TextField name="traceIdInput" label="Trace id" value={value} onInput={setValue} />
      <div class="actions">
        <button type="submit" class="primary">
          Open trace
        </button>
      </div>
    </form>
  );
}

export function Trace({ route }) {
  const { project, traceId, params } = route;
  const selected = params.get('log') || '';
  if (!traceId)
    return (
      <section aria-labelledby="view-title">
        <h1 id="view-title" tabIndex={-1}>
          Trace
        </h1>
        <p>A trace is everything one trigger caused: its event logs and the executions it started.</p>
        <TraceForm project={project} />
      </section>
    );
  return <TraceView project={project} traceId={traceId} selected={selected} />;
}

function TraceView({ project, traceId, selected }) {
  const res = useLoad((signal) => apiGet(projectPath(project, `/traces/${enc(traceId)}`), { signal }), [project, traceId]);
  const t = res.data;
  const logs = (t && t.eventLogs) || [];
  const execs = (t && t.workflowExecutions) || [];
  const items = [
    ...logs.map((l) => ({
      id: l.id,
      type: 'event-log',
      kind: 'point',
      name: l.message || l.type,
      detail: `${l.type} · ${l.level}`,
      status: LEVEL_STATUS[l.level] || 'QUEUED',
      failed: l.level === 'ERROR',
      start: Date.parse(l.timestamp),
      end: null,
    })),
    ...execs.map((e) => ({
      id: e.id,
      type: 'execution',
      kind: 'bar',
      name: e.workflowName || e.workflowId,
      detail: `${e.status}${e.userId ? ` · ${e.userId}` : ''}`,
      status: e.status,
      failed: e.status === 'FAILED',
      start: Date.parse(e.dateStarted),
      end: endTime(e),
    })),
  ].sort((a, b) => a.start - b.start || (a.kind === 'point' ? -1 : 1));
  const log = logs.find((l) => l.id === selected);

  return (
    <section aria-labelledby="view-title" aria-busy={res.loading ? 'true' : 'false'}>
      <p class="crumbs">
        <a href={href(project, 'traces')}>Traces</a> ›
      </p>
      <h1 id="view-title" tabIndex={-1}>
        Trace <code>{traceId}</code>
      </h1>
      {res.loading && <Loading what="Loading the trace" />}
      {res.error && <ErrorBox error={res.error} project={project} onRetry={res.reload} />}
      {t && (
        <>
          <p id="trace-summary">
            {fmtInt(logs.length)} event log{logs.length === 1 ? '' : 's'} and {fmtInt(execs.length)} execution
            {execs.length === 1 ? '' : 's'}.{' '}
            <a href={href(project, 'event-logs', { traceId })}>Event logs of this trace</a> ·{' '}
            <a href={href(project, 'executions', { traceId })}>Executions of this trace</a>
          </p>
          {t.truncated && (
            <div class="notice partial" role="status">
              <strong>Truncated.</strong> This trace holds more than the 1,000 records shown here; the executions and
              event-log lists filtered by this trace id page through all of it.
            </div>
          )}
          <section class="panel" aria-labelledby="tl-title">
            <h2 id="tl-title">Timeline</h2>
            <p class="muted small">
              <span class="legend-point" aria-hidden="true" /> event log · <span class="legend-bar" aria-hidden="true" /> execution
              (Enter or click: an execution opens, an event log shows below)
            </p>
            <Timeline
              items={items}
              label="Event logs and executions of the trace on a time axis"
              selectedId={selected}
              kindLabel={(it) => (it.type === 'execution' ? 'Execution' : 'Event log')}
              onOpen={(it) =>
                it.type === 'execution'
                  ? navigate(executionHref(project, it.id))
                  : navigate(href(project, `traces/${enc(traceId)}`, { log: it.id }), { replace: true })
              }
            />
          </section>
          {log && (
            <section class="panel" id="trace-log-detail" aria-labelledby="log-title">
              <div class="panel-head">
                <h2 id="log-title">
                  Event log <LevelBadge level={log.level} />
                </h2>
                <a href={traceHref(project, traceId)} class="close">
                  Close
                </a>
              </div>
              <EventLogDetail project={project} log={log} />
            </section>
          )}
          <section class="panel" aria-labelledby="tr-execs">
            <h2 id="tr-execs">Executions</h2>
            <ul class="plain" id="trace-executions">
              {execs.map((e) => (
                <li key={e.id} data-id={e.id}>
                  <StatusBadge status={e.status} /> <a href={executionHref(project, e.id)}>{e.workflowName || e.workflowId}</a>{' '}
                  <span class="muted small">{e.id}</span>
                </li>
              ))}
            </ul>
            <h2 id="tr-logs">Event logs</h2>
            <ul class="plain" id="trace-event-logs">
              {logs.map((l) => (
                <li key={l.id} data-id={l.id}>
                  <LevelBadge level={l.level} />{' '}
                  <a href={href(project, `traces/${enc(traceId)}`, { log: l.id })}>{l.message || l.type}</a>{' '}
                  <span class="muted small">{l.type}</span>
                </li>
              ))}
            </ul>
          </section>
        </>
      )}
    </section>
  );
}
