import {
  CheckField,
  CheckGroup,
  FormActions,
  Results,
  SelectField,
  StatusBadge,
  TextField,
  limitOptions,
  useRoving,
} from '../components/common.jsx';
import { listingForm, useListing } from '../components/listing.js';
import { Pager, PageSummary, previousCursor } from '../components/paging.jsx';
import { fmtDuration, fmtTime } from '../format.js';
import { executionHref, href, navigate } from '../route.js';

export const STATUSES = ['QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED'];
const TEXT_FILTERS = ['integration', 'userId', 'workflowId', 'triggerType', 'traceId', 'afterDate', 'beforeDate', 'q'];
const FORM = listingForm({ text: TEXT_FILTERS, choice: 'status', choices: STATUSES, flags: ['count'] });

const noun = (n) => (n === 1 ? 'execution' : 'executions');

export function Executions({ route }) {
  const { project, params } = route;
  const { qs, form, applied, cursor, key, res, set, submit, go } = useListing({
    project,
    params,
    view: 'executions',
    path: '/workflow-executions',
    list: 'workflowExecutions',
    form: FORM,
  });

  return (
    <section aria-labelledby="view-title">
      <h1 id="view-title" tabIndex={-1}>
        Executions
      </h1>
      <form class="filters" onSubmit={submit} aria-label="Execution filters">
        <TextField name="integration" label="Integration" value={form.integration} onInput={set('integration')} hint="comma-separated, up to 10" />
        <TextField name="userId" label="User id" value={form.userId} onInput={set('userId')} />
        <TextField name="workflowId" label="Workflow id" value={form.workflowId} onInput={set('workflowId')} />
        <TextField name="triggerType" label="Trigger type" value={form.triggerType} onInput={set('triggerType')} />
        <TextField name="traceId" label="Trace id" value={form.traceId} onInput={set('traceId')} />
        <TextField name="afterDate" label="Started on or after (UTC)" value={form.afterDate} onInput={set('afterDate')} placeholder="2026-11-01 or 2026-11-01T08:00:00Z" />
        <TextField name="beforeDate" label="Started before (UTC)" value={form.beforeDate} onInput={set('beforeDate')} placeholder="2026-11-02" />
        <TextField name="q" label="Keywords" value={form.q} onInput={set('q')} hint="exact tokens of input, output or error" wide />
        <CheckGroup name="status" legend="Status" options={STATUSES} values={form.status} onChange={set('status')} badge={(s) => <StatusBadge status={s} />} />
        <SelectField name="sortBy" label="Order" value={form.sortBy} onChange={set('sortBy')} options={[['DESC', 'Newest first'], ['ASC', 'Oldest first']]} />
        <SelectField name="limit" label="Page size" value={form.limit} onChange={set('limit')} options={limitOptions(form.limit)} />
        <CheckField name="count" label="Count all matches" checked={form.count} onChange={set('count')} />
        <FormActions onClear={() => navigate(href(project, 'executions'))} />
      </form>

      <Results
        qs={qs}
        res={res}
        what="Loading executions"
        project={project}
        render={(data) => (
          <>
            <PageSummary key_={key} cursor={cursor} data={data} noun={noun} count={applied.count} />
            {data.items.length ? (
              <ExecutionTable project={project} items={data.items} />
            ) : (
              !data.partial && <p class="empty">No executions match these filters.</p>
            )}
            <Pager cursor={cursor} prev={previousCursor(key, cursor)} next={data.nextCursor} onGo={go} partial={data.partial} />
          </>
        )}
      />
    </section>
  );
}

export function ExecutionTable({ project, items, caption = 'Executions' }) {
  const roving = useRoving(items.length);
  const open = (ex) => navigate(executionHref(project, ex.id));
  return (
    <div class="table-wrap">
      <table class="list" id="executions-table">
        <caption>
          {caption} <span class="muted small">— Tab to the list, ↑ ↓ to move, Enter to open</span>
        </caption>
        <thead>
          <tr>
            <th scope="col">Status</th>
            <th scope="col">Started (UTC)</th>
            <th scope="col">Workflow</th>
            <th scope="col">User</th>
            <th scope="col">Integration</th>
            <th scope="col">Trigger</th>
            <th scope="col">Duration</th>
            <th scope="col">Error</th>
          </tr>
        </thead>
        <tbody ref={roving.ref} onKeyDown={roving.onKeyDown}>
          {items.map((ex, i) => (
            <tr
              key={ex.id}
              class="row"
              data-id={ex.id}
              data-status={ex.status}
              data-user={ex.userId || ''}
              aria-label={`${ex.workflowName || ex.workflowId}, ${ex.status}, started ${fmtTime(ex.dateStarted)}`}
              onClick={() => open(ex)}
              onKeyDown={(e) => {
                if (e.key === 'Enter' || e.key === ' ') {
                  e.preventDefault();
                  open(ex);
                }
              }}
              {...roving.itemProps(i)}
            >
              <td>
                <StatusBadge status={ex.status} />
              </td>
              <td class="nowrap">{fmtTime(ex.dateStarted)}</td>
              <td>
                {ex.workflowName || ex.workflowId}
                {ex.workflowName && <div class="muted small">{ex.workflowId}</div>}
              </td>
              <td class="cell-user">{ex.userId || '—'}</td>
              <td>{ex.integration || '—'}</td>
              <td>{ex.triggerType || '—'}</td>
              <td class="num">{ex.status === 'RUNNING' || ex.status === 'QUEUED' ? '—' : fmtDuration(ex.runDuration)}</td>
              <td class="err-cell">{ex.error ? ex.error.message : ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

