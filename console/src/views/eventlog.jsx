import { Body, ErrorView, storedApart } from '../components/json.jsx';
import { fmtTime } from '../format.js';
import { href, traceHref } from '../route.js';

const FIELDS = [
  ['endUserId', 'End user'],
  ['integrationId', 'Integration'],
  ['workflowId', 'Workflow'],
  ['traceId', 'Trace'],
  ['eventName', 'Event name'],
  ['eventId', 'Event id'],
  ['webhookId', 'Webhook'],
  ['status', 'Status'],
  ['personaId', 'Persona'],
  ['connectCredentialId', 'Connect credential'],
  ['connectCredentialConfigId', 'Connect credential config'],
];

// Every field of one event log, its error and its payload.
export function EventLogDetail({ project, log, bodiesLeftOut }) {
  const link = (k, v) => {
    if (k === 'traceId') return <a href={traceHref(project, v)}>{v}</a>;
    if (k === 'workflowId') return <a href={href(project, 'executions', { workflowId: v })}>{v}</a>;
    if (k === 'endUserId') return <a href={href(project, 'executions', { userId: v })}>{v}</a>;
    return v;
  };
  return (
    <div class="log-detail">
      <dl class="summary">
        <div>
          <dt>Id</dt>
          <dd>
            <code>{log.id}</code>
          </dd>
        </div>
        <div>
          <dt>Time</dt>
          <dd>{fmtTime(log.timestamp, { ms: true })} UTC</dd>
        </div>
        <div>
          <dt>Type</dt>
          <dd>{log.type}</dd>
        </div>
        {FIELDS.filter(([k]) => log[k] !== undefined && log[k] !== null).map(([k, label]) => (
          <div key={k}>
            <dt>{label}</dt>
            <dd>{link(k, String(log[k]))}</dd>
          </div>
        ))}
      </dl>
      <p class="log-message">{log.message}</p>
      {log.error && (
        <>
          <h3>Error</h3>
          <ErrorView error={log.error} label="event log error details" detailsStored={storedApart(log, 'error.details')} />
        </>
      )}
      <h3>Payload</h3>
      {log.payload === undefined && bodiesLeftOut ? (
        <p class="muted">Left out (payloads not included).</p>
      ) : (
        <Body value={log.payload} label="payload" stored={storedApart(log, 'payload')} />
      )}
    </div>
  );
}
