import { ServerConnection } from '@jupyterlab/services';

import {
  GeminiLiveApiError,
  createSession,
  deleteSession,
  getStatus,
  sendText,
  streamRefusal
} from '../api';

type Call = { url: string; method: string; body: string | null };

function server(status: number, body: string, calls: Call[] = []) {
  const fetch = jest.fn(async (request: Request) => {
    // ServerConnection adds a cache-busting query to GETs; compare the path only.
    const url = request.url.split('?')[0];
    const text = request.method === 'GET' ? '' : await request.text();
    calls.push({ url, method: request.method, body: text || null });
    return {
      ok: status >= 200 && status < 300,
      status,
      statusText: 'Status',
      text: async () => body
    } as Response;
  });
  return ServerConnection.makeSettings({
    baseUrl: 'http://example.org/user/ada/',
    fetch: fetch as unknown as typeof window.fetch
  });
}

describe('api', () => {
  it('reads the status under the base URL', async () => {
    const calls: Call[] = [];
    const status = await getStatus(server(200, '{"version": "0.1.0"}', calls));
    expect(status.version).toBe('0.1.0');
    expect(calls[0].url).toBe(
      'http://example.org/user/ada/gemini-live/api/status'
    );
  });

  it('posts session options as JSON', async () => {
    const calls: Call[] = [];
    await createSession(
      { backend: 'echo', activity_detection: 'manual' },
      server(201, '{"id": "x"}', calls)
    );
    expect(calls[0].method).toBe('POST');
    expect(JSON.parse(calls[0].body as string)).toEqual({
      backend: 'echo',
      activity_detection: 'manual'
    });
  });

  it('accepts empty answers (202, 204)', async () => {
    const calls: Call[] = [];
    await expect(
      deleteSession('a/b', server(204, '', calls))
    ).resolves.toBeUndefined();
    expect(calls[0].url).toBe(
      'http://example.org/user/ada/gemini-live/api/sessions/a%2Fb'
    );
    await expect(
      sendText('s1', 'hi', server(202, ''))
    ).resolves.toBeUndefined();
  });

  it("carries the server's JSON message and status in the error", async () => {
    const settings = server(
      503,
      '{"message": "backend gemini unavailable: no API key"}'
    );
    const error = await createSession({ backend: 'gemini' }, settings).catch(
      e => e
    );
    expect(error).toBeInstanceOf(GeminiLiveApiError);
    expect(error.message).toBe('backend gemini unavailable: no API key');
    expect(error.status).toBe(503);
  });

  it('explains a 404 without JSON as the extension missing', async () => {
    const error = await getStatus(server(404, '<html>Not Found</html>')).catch(
      e => e
    );
    expect(error.message).toMatch(/server extension is not enabled/);
  });

  it('falls back to the status line for other non-JSON errors', async () => {
    const error = await getStatus(server(502, 'Bad gateway')).catch(e => e);
    expect(error.message).toBe('502 Status');
  });

  it('reports an unreachable server', async () => {
    const settings = ServerConnection.makeSettings({
      baseUrl: 'http://example.org/',
      fetch: (async () => {
        throw new TypeError('Failed to fetch');
      }) as unknown as typeof window.fetch
    });
    const error = await getStatus(settings).catch(e => e);
    expect(error.message).toMatch(/Cannot reach the Jupyter server/);
    expect(error.status).toBe(0);
  });
});

describe('streamRefusal', () => {
  function probe(status: number, body: string, urls: string[] = []) {
    const fetch = jest.fn(async (request: Request) => {
      urls.push(request.url);
      return {
        ok: false,
        status,
        statusText: 'Status',
        text: async () => body
      } as Response;
    });
    return ServerConnection.makeSettings({
      baseUrl: 'http://example.org/user/ada/',
      fetch: fetch as unknown as typeof window.fetch
    });
  }

  it('asks the stream route over plain HTTP, exclusively, and returns the 409 message', async () => {
    const urls: string[] = [];
    const message = await streamRefusal(
      'abc',
      probe(409, '{"message": "a device is already connected"}', urls)
    );
    expect(message).toBe('a device is already connected');
    expect(urls[0]).toMatch(
      /^http:\/\/example\.org\/user\/ada\/gemini-live\/api\/sessions\/abc\/stream\?mode=device&exclusive=1/
    );
  });

  it('is null when the server would accept (400: no Upgrade header)', async () => {
    expect(await streamRefusal('abc', probe(400, 'Can "Upgrade"'))).toBeNull();
  });

  it('words a 409 without JSON, and a vanished session', async () => {
    expect(await streamRefusal('abc', probe(409, '<html>'))).toMatch(
      /Another device/
    );
    expect(await streamRefusal('abc', probe(404, '<html>'))).toMatch(
      /no longer exists/
    );
  });
});
