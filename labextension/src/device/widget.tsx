/**
 * The inline device a notebook shows for `RunningLiveAudio`: "Start microphone", a level
 * meter, "Stop" and a status line (announced to screen readers). DOM hooks for browser
 * tests: the root has `data-testid="gemini-live-device"`, `data-session-id`,
 * `data-state` (idle|starting|live|failed|stopped|ended) and `data-played-ms`; the
 * buttons `data-testid="gemini-live-device-start"` / `-stop`.
 */
import { IRenderMime } from '@jupyterlab/rendermime';
import { nullTranslator, TranslationBundle } from '@jupyterlab/translation';
import { Button, ReactWidget, UseSignal } from '@jupyterlab/ui-components';
import * as React from 'react';

import { TRANSLATION_DOMAIN } from '../audio/microphone';
import { DEVICE_MIME_TYPE, IDeviceData, parseDeviceData } from './data';
import { DeviceModel, DeviceState, IDeviceModelOptions } from './model';

export interface IDeviceWidgetOptions extends Omit<
  IDeviceModelOptions,
  'trans'
> {
  trans?: TranslationBundle;
}

export class DeviceWidget extends ReactWidget implements IRenderMime.IRenderer {
  private _model: DeviceModel | null = null;
  /** Why the output's data could not be used, shown instead of the controls. */
  private invalid: string | null = null;
  private readonly trans: TranslationBundle;

  constructor(private readonly options: IDeviceWidgetOptions = {}) {
    super();
    this.trans = options.trans ?? nullTranslator.load(TRANSLATION_DOMAIN);
    this.addClass('jp-GeminiLiveDevice');
    this.node.dataset.testid = 'gemini-live-device';
    this.syncRoot();
  }

  /** The device's model; null before the output was rendered or when it is invalid. */
  get model(): DeviceModel | null {
    return this._model;
  }

  async renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    const parsed = parseDeviceData(model.data[DEVICE_MIME_TYPE]);
    if (!parsed.ok) {
      this.replaceModel(null);
      this.invalid = parsed.reason;
    } else if (this._model?.data.session_id !== parsed.data.session_id) {
      // A re-render of the same output keeps the running microphone.
      this.replaceModel(parsed.data);
      this.invalid = null;
    }
    this.syncRoot();
    this.update();
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    // The output went away (cleared, cell re-run): the microphone is released.
    this.replaceModel(null);
    super.dispose();
  }

  protected render(): JSX.Element {
    const model = this._model;
    if (!model) {
      return (
        <div className="jp-GeminiLiveDevice-status" role="status">
          {this.invalid
            ? this.trans.__(
                'This Gemini Live device cannot be shown: %1',
                this.invalid
              )
            : ''}
        </div>
      );
    }
    return <DeviceView model={model} trans={this.trans} />;
  }

  private replaceModel(data: IDeviceData | null): void {
    const old = this._model;
    this._model = null;
    if (old) {
      old.changed.disconnect(this.syncRoot, this);
      old.levelsChanged.disconnect(this.syncPlayed, this);
      old.dispose();
    }
    if (data) {
      const model = new DeviceModel(data, {
        ...this.options,
        trans: this.trans
      });
      model.changed.connect(this.syncRoot, this);
      model.levelsChanged.connect(this.syncPlayed, this);
      this._model = model;
    }
  }

  private syncRoot(): void {
    const model = this._model;
    const state: DeviceState =
      model?.state ?? (this.invalid === null ? 'idle' : 'failed');
    this.node.dataset.sessionId = model?.data.session_id ?? '';
    this.node.dataset.state = state;
    this.syncPlayed();
  }

  private syncPlayed(): void {
    this.node.dataset.playedMs = String(Math.round(this._model?.playedMs ?? 0));
  }
}

interface IViewProps {
  model: DeviceModel;
  trans: TranslationBundle;
}

function DeviceView({ model, trans }: IViewProps): JSX.Element {
  return (
    <UseSignal signal={model.changed}>
      {() => (
        <>
          <div className="jp-GeminiLiveDevice-header">
            <span className="jp-GeminiLiveDevice-title">
              {model.data.label || trans.__('Gemini Live audio device')}
            </span>
            <span className="jp-GeminiLiveDevice-rate">
              {trans.__('Kernel reads %1 Hz', model.data.sample_rate)}
            </span>
          </div>
          <div className="jp-GeminiLiveDevice-controls">
            <Button
              className="jp-mod-styled jp-mod-accept"
              data-testid="gemini-live-device-start"
              disabled={!model.canStart}
              title={trans.__(
                'Ask for the microphone and let the kernel hear it and play audio here'
              )}
              onClick={() => void model.start()}
            >
              {trans.__('Start microphone')}
            </Button>
            <Button
              className="jp-mod-styled jp-mod-warn"
              data-testid="gemini-live-device-stop"
              disabled={!model.canStop}
              title={trans.__('Release the microphone')}
              onClick={() => void model.stop()}
            >
              {trans.__('Stop')}
            </Button>
            <Meter model={model} trans={trans} />
          </div>
          <div
            className="jp-GeminiLiveDevice-status"
            data-testid="gemini-live-device-status"
            role="status"
            aria-live="polite"
          >
            {model.message}
          </div>
        </>
      )}
    </UseSignal>
  );
}

function Meter({ model, trans }: IViewProps): JSX.Element {
  return (
    <UseSignal signal={model.levelsChanged}>
      {() => {
        const percent = Math.round(model.level() * 100);
        const played = (model.playedMs / 1000).toFixed(1);
        return (
          <>
            <div
              className="jp-GeminiLiveDevice-meter"
              data-testid="gemini-live-device-meter"
              role="meter"
              aria-label={trans.__('Microphone level')}
              aria-valuemin={0}
              aria-valuemax={100}
              aria-valuenow={percent}
            >
              <div
                className="jp-GeminiLiveDevice-meterFill"
                style={{ width: `${percent}%` }}
              />
            </div>
            <span className="jp-GeminiLiveDevice-played">
              {trans.__('Played %1 s', played)}
            </span>
          </>
        );
      }}
    </UseSignal>
  );
}
