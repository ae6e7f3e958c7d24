/**
 * The panel as the device that answers notebook tool calls: for a session made with
 * `notebook: true`, every `tool_call` of a notebook tool's name is run here and
 * answered with a `tool_response`; other names are left to whoever has them (a
 * kernel). `tool_call_cancelled` withdraws what is pending.
 */
import type { IToolResponse, ServerEvent } from '../stream';
import type { ILiveSessionInfo } from '../tokens';
import { isNotebookTool, NotebookToolName } from './budgets';
import { NotebookTools } from './tools';

export interface IRunnerHost {
  readonly session: ILiveSessionInfo | null;
  sendToolResponse(response: IToolResponse): boolean;
}

export class NotebookToolRunner {
  private sessionId: string | null = null;

  constructor(
    private readonly host: IRunnerHost,
    private readonly tools: NotebookTools,
    /** The session ended or changed: what waits for the user is withdrawn. */
    private readonly onSessionChanged: () => void = () => undefined
  ) {}

  /** A server event of the panel's stream. */
  handle(event: ServerEvent): void {
    const session = this.activeSession();
    if (!session) {
      return;
    }
    if (event.type === 'tool_call' && isNotebookTool(event.name)) {
      void this.answer(event.id, event.name, event.args, session);
    } else if (event.type === 'tool_call_cancelled') {
      this.tools.cancel(event.ids);
    }
  }

  /** The panel's session may have changed (started, ended, another). */
  sync(): void {
    const id = this.host.session?.id ?? null;
    if (id !== this.sessionId) {
      this.sessionId = id;
      this.onSessionChanged();
    }
  }

  private activeSession(): ILiveSessionInfo | null {
    this.sync();
    const session = this.host.session;
    return session?.notebook ? session : null;
  }

  private async answer(
    id: string,
    name: NotebookToolName,
    args: Record<string, unknown>,
    session: ILiveSessionInfo
  ): Promise<void> {
    const answer = await this.tools.call(
      { id, name, args },
      { sessionId: session.id, asyncRun: session.asyncTools }
    );
    if (!answer || this.host.session?.id !== session.id) {
      return;
    }
    const response: IToolResponse = {
      type: 'tool_response',
      id,
      name,
      response: answer.response
    };
    if (answer.images?.length) {
      response.images = answer.images;
    }
    if (answer.scheduling) {
      response.scheduling = answer.scheduling;
    }
    this.host.sendToolResponse(response);
  }
}
