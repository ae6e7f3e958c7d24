/**
 * The panel's sharing controls: "Share camera" / "Share screen" (each a toggle), and a
 * small live preview of what is shared, so the user always sees what Gemini sees.
 */
import { TranslationBundle } from '@jupyterlab/translation';
import { UseSignal } from '@jupyterlab/ui-components';
import * as React from 'react';

import { MediaShare, ShareKind } from './media-share';

export interface IShareControlsProps {
  share: MediaShare;
  trans: TranslationBundle;
  /** Frames can go (the session is live). */
  live: boolean;
}

export function ShareControls(props: IShareControlsProps): JSX.Element {
  return (
    <UseSignal signal={props.share.changed}>
      {() => <ShareBody {...props} />}
    </UseSignal>
  );
}

function shareError(error: unknown, trans: TranslationBundle): string {
  const name = (error as { name?: string } | null)?.name;
  if (name === 'NotAllowedError') {
    return trans.__('Sharing was not allowed.');
  }
  if (name === 'NotFoundError') {
    return trans.__('No camera was found.');
  }
  return trans.__('Sharing failed: %1', (error as Error)?.message ?? '');
}

function ShareBody({ share, trans, live }: IShareControlsProps): JSX.Element {
  const kind = share.kind;
  const toggle = (wanted: ShareKind) => () => {
    if (kind === wanted) {
      share.stop();
    } else {
      void share.start(wanted).catch(() => undefined);
    }
  };
  const button = (wanted: ShareKind, start: string, stop: string) => (
    <button
      type="button"
      className={`jp-Button jp-mod-styled${
        kind === wanted ? ' jp-mod-active' : ''
      }`}
      data-testid={`gemini-live-share-${wanted}`}
      aria-pressed={kind === wanted}
      disabled={!live || !share.supports(wanted)}
      onClick={toggle(wanted)}
    >
      {kind === wanted ? stop : start}
    </button>
  );
  return (
    <div className="jp-GeminiLive-share" data-testid="gemini-live-share">
      <div
        className="jp-GeminiLive-shareButtons"
        role="group"
        aria-label={trans.__('Share video with Gemini')}
      >
        {button('camera', trans.__('Share camera'), trans.__('Stop camera'))}
        {button('screen', trans.__('Share screen'), trans.__('Stop screen'))}
      </div>
      {share.error !== null && kind === null && (
        <div className="jp-GeminiLive-shareError" role="alert">
          {shareError(share.error, trans)}
        </div>
      )}
      {kind !== null && <Preview share={share} trans={trans} kind={kind} />}
    </div>
  );
}

function Preview(props: {
  share: MediaShare;
  trans: TranslationBundle;
  kind: ShareKind;
}): JSX.Element {
  const { share, trans, kind } = props;
  const holder = React.useRef<HTMLDivElement>(null);
  React.useEffect(() => {
    const element = holder.current;
    const video = share.video;
    if (!element) {
      return;
    }
    video.classList.add('jp-GeminiLive-previewVideo');
    video.setAttribute('data-testid', 'gemini-live-share-preview');
    element.appendChild(video);
    return () => {
      if (video.parentElement === element) {
        element.removeChild(video);
      }
    };
  }, [share]);
  const label =
    kind === 'camera'
      ? trans.__('Your camera, as Gemini sees it')
      : trans.__('Your screen, as Gemini sees it');
  return (
    <figure className="jp-GeminiLive-preview" data-kind={kind}>
      <div ref={holder} className="jp-GeminiLive-previewHolder" />
      <figcaption>{label}</figcaption>
    </figure>
  );
}
