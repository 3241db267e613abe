import { useEffect, useRef, useState } from 'preact/hooks';
import { apiGet, enc, projectPath, query, sameOrigin } from '../api.js';
import { ErrorBox, Loading, StatusBadge, useLoad } from '../components/common.jsx';
import { Body, ErrorView, storedApart } from '../components/json.jsx';
import { Timeline } from '../components/timeline.jsx';
import { endTime, fmtDuration, fmtInt, fmtTime } from '../format.js';
import { executionHref, href, navigate, stepHref, traceHref } from '../route.js';

// All steps: those of the get response, then the pages of the step-executions route.
function useAllSteps(project, execution) {
  const [state, setState] = useState({ steps: [], loading: false, error: null });
  useEffect(() => {
    if (!execution) return undefined;
    const first = execution.steps || [];
    const link = execution.stepsNextLink;
    const cursor = execution.stepsNextCursor;
    if (!link && !cursor) {
      setState({ steps: first, loading: false, error: null });
      return undefined;
    }
    const ac = new AbortController();
    setState({ steps: first, loading: true, error: null });
    (async () => {
      let steps = first;
      let next = link
        ? sameOrigin(link)
        : projectPath(project, `/workflow-executions/${enc(execution.id)}/step-executions${query({ cursor })}`);
      while (next) {
        const page = await apiGet(next, { signal: ac.signal });
        steps = steps.concat(page.stepExecutions || []);
        setState({ steps, loading: true, error: null });
        next = page.nextLink
          ? sameOrigin(page.nextLink)
          : page.nextCursor
            ? projectPath(project, `/workflow-executions/${enc(execution.id)}/step-executions${query({ cursor: page.nextCursor })}`)
            : null;
      }
      setState({ steps, loading: false, error: null });
    })().catch((error) => {
      if (!ac.signal.aborted) setState((s) => ({ ...s, loading: false, error }));
    });
    return () => ac.abort();
  }, [project, execution]);
  return state;
}

function Summary({ project, ex }) {
  const filter = (k, v) => href(project, 'executions', { [k]: v });
  const rows = [
    ['Id', <code>{ex.id}</code>],
    ['Status', <StatusBadge status={ex.status} />],
    [
      'Workflow',
      <>
        {ex.workflowName || ''} <a href={filter('workflowId', ex.workflowId)}>{ex.workflowId}</a>
      </>,
    ],
    ['User', ex.userId ? <a href={filter('userId', ex.userId)}>{ex.userId}</a> : '—'],
    ['Integration', ex.integration ? <a href={filter('integration', ex.integration)}>{ex.integration}</a> : '—'],
    ['Trigger', ex.triggerType || '—'],
    ['Trace', ex.traceId ? <a href={traceHref(project, ex.traceId)} id="trace-link">{ex.traceId}</a> : '—'],
    ['Started', `${fmtTime(ex.dateStarted, { ms: true })} UTC`],
    ['Ended', ex.dateEnded ? `${fmtTime(ex.dateEnded, { ms: true })} UTC` : '—'],
    ['Duration', fmtDuration(ex.runDuration)],
    ['Tasks', ex.taskCount === null || ex.taskCount === undefined ? '—' : fmtInt(ex.taskCount)],
  ];
  return (
    <dl class="summary" id="execution-summary">
      {rows.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  );
}

function StepDetail({ project, executionId, stepId }) {
  const headingRef = useRef(null);
  const res = useLoad(
    (signal) =>
      apiGet(projectPath(project, `/workflow-executions/${enc(executionId)}/step-executions/${enc(stepId)}`), { signal }),
    [project, executionId, stepId],
  );
  useEffect(() => {
    if (res.data && headingRef.current) headingRef.current.focus();
  }, [res.data]);
  const s = res.data;
  return (
    <section class="panel step-detail" id="step-detail" aria-labelledby="step-title" aria-busy={res.loading ? 'true' : 'false'}>
      <div class="panel-head">
        <h2 id="step-title" tabIndex={-1} ref={headingRef}>
          Step{s ? `: ${s.stepName}` : ''}
        </h2>
        <a href={executionHref(project, executionId)} class="close">
          Close step
        </a>
      </div>
      {res.loading && <Loading what="Loading the step" />}
      {res.error && <ErrorBox error={res.error} project={project} onRetry={res.reload} />}
      {s && (
        <>
          <dl class="summary">
            <div>
              <dt>Id</dt>
              <dd>
                <code>{s.id}</code>
              </dd>
            </div>
            <div>
              <dt>Status</dt>
              <dd>
                <StatusBadge status={s.status} />
              </dd>
            </div>
            <div>
              <dt>Type</dt>
              <dd>{s.stepType || '—'}</dd>
            </div>
            <div>
              <dt>Started</dt>
              <dd>{fmtTime(s.dateStarted, { ms: true })} UTC</dd>
            </div>
            <div>
              <dt>Ended</dt>
              <dd>{s.dateEnded ? `${fmtTime(s.dateEnded, { ms: true })} UTC` : '—'}</dd>
            </div>
            <div>
              <dt>Duration</dt>
              <dd>{fmtDuration(s.runDuration)}</dd>
            </div>
          </dl>
          {s.error && (
            <>
              <h3>Error</h3>
              <ErrorView error={s.error} label="step error details" detailsStored={storedApart(s, 'error.details')} />
            </>
          )}
          <h3>Input</h3>
          <Body value={s.input} label="step input" stored={storedApart(s, 'input')} />
          <h3>Output</h3>
          <Body value={s.output} label="step output" stored={storedApart(s, 'output')} />
        </>
      )}
    </section>
  );
}

export function Execution({ route }) {
  const { project, executionId, stepId } = route;
  const res = useLoad(
    (signal) => apiGet(projectPath(project, `/workflow-executions/${enc(executionId)}`), { signal }),
    [project, executionId],
  );
  const ex = res.data;
  const steps = useAllSteps(project, ex);
  const items = steps.steps.map((s) => ({
    id: s.id,
    kind: 'bar',
    name: s.stepName,
    detail: s.stepType || '',
    status: s.status,
    failed: s.status === 'FAILED',
    start: Date.parse(s.dateStarted),
    end: endTime(s),
  }));

  return (
    <section aria-labelledby="view-title" aria-busy={res.loading ? 'true' : 'false'}>
      <p class="crumbs">
        <a href={href(project, 'executions')}>Executions</a> ›
      </p>
      <h1 id="view-title" tabIndex={-1}>
        Execution{ex ? `: ${ex.workflowName || ex.workflowId}` : ''} {ex && <StatusBadge status={ex.status} />}
      </h1>
      {res.loading && <Loading what="Loading the execution" />}
      {res.error && <ErrorBox error={res.error} project={project} onRetry={res.reload} />}
      {ex && (
        <>
          <Summary project={project} ex={ex} />
          {ex.error && (
            <section class="panel error-panel" id="execution-error" aria-labelledby="error-title">
              <h2 id="error-title">Error</h2>
              <ErrorView error={ex.error} label="error details" detailsStored={storedApart(ex, 'error.details')} />
            </section>
          )}
          <section class="panel" aria-labelledby="steps-title" id="steps">
            <h2 id="steps-title">
              Steps <span class="muted small">({fmtInt(steps.steps.length)}{steps.loading ? ', loading more…' : ''})</span>
            </h2>
            <Timeline
              items={items}
              label="Steps on a time axis"
              selectedId={stepId}
              kindLabel={() => 'Step'}
              onOpen={(it) => navigate(stepHref(project, ex.id, it.id))}
            />
            {steps.error && <ErrorBox error={steps.error} project={project} />}
          </section>
          {stepId && <StepDetail project={project} executionId={ex.id} stepId={stepId} />}
          <section class="panel" aria-labelledby="input-title">
            <h2 id="input-title">Input</h2>
            <Body value={ex.input} label="input" stored={storedApart(ex, 'input')} />
          </section>
          <section class="panel" aria-labelledby="output-title">
            <h2 id="output-title">Output</h2>
            <Body value={ex.output} label="output" stored={storedApart(ex, 'output')} />
          </section>
        </>
      )}
    </section>
  );
}
