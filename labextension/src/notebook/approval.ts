/**
 * The user stays in charge: each change or run the model asks for waits here until the
 * user approves or declines it, or the model withdraws it (`tool_call_cancelled`).
 * Requests are answered in order; the view (approval-view.tsx) shows the first.
 */
import { ISignal, Signal } from '@lumino/signaling';

export type ApprovalKind = 'insert_cell' | 'replace_cell' | 'run_cell';

export type Decision = 'approved' | 'declined' | 'withdrawn';

export interface IApprovalRequest {
  /** The tool call's id (what `tool_call_cancelled` names). */
  callId: string;
  kind: ApprovalKind;
  /** The cell's index: where it goes (insert) or which it is. */
  index: number;
  /** The proposed source (insert, replace) or the source to run. */
  source: string;
  /** The source a replacement replaces. */
  previous?: string;
  cellType?: string;
}

interface IPending {
  request: IApprovalRequest;
  resolve: (decision: Decision) => void;
}

/** At most this many requests wait; more are declined at once (the model loops). */
export const MAX_PENDING_APPROVALS = 16;

export class ApprovalQueue {
  private readonly pending: IPending[] = [];
  private readonly _changed = new Signal<this, void>(this);

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** The request the user is asked about; null when none waits. */
  get current(): IApprovalRequest | null {
    return this.pending[0]?.request ?? null;
  }

  get size(): number {
    return this.pending.length;
  }

  request(request: IApprovalRequest): Promise<Decision> {
    if (this.pending.length >= MAX_PENDING_APPROVALS) {
      return Promise.resolve('declined');
    }
    return new Promise(resolve => {
      this.pending.push({ request, resolve });
      this._changed.emit();
    });
  }

  approve(): void {
    this.settleFirst('approved');
  }

  decline(): void {
    this.settleFirst('declined');
  }

  /** The model withdrew the call; true when it was waiting. */
  withdraw(callId: string): boolean {
    const at = this.pending.findIndex(p => p.request.callId === callId);
    if (at < 0) {
      return false;
    }
    const [item] = this.pending.splice(at, 1);
    item.resolve('withdrawn');
    this._changed.emit();
    return true;
  }

  /** The conversation ended: nothing waits any more. */
  withdrawAll(): void {
    for (const item of this.pending.splice(0)) {
      item.resolve('withdrawn');
    }
    this._changed.emit();
  }

  dispose(): void {
    this.withdrawAll();
    Signal.clearData(this);
  }

  private settleFirst(decision: Decision): void {
    const item = this.pending.shift();
    if (item) {
      item.resolve(decision);
      this._changed.emit();
    }
  }
}
