/**
 * A real notification receiver on 127.0.0.1 (docs/controller.md, "Notifications"): records every POST (raw body,
 * headers) and answers as the test says: 200, a status, or never (the request is held until `answerHeld` or close).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedAlert {
  path: string;
  headers: http.IncomingHttpHeaders;
  raw: string;
  body: any;
  /** When the receiver answered (undefined while held). */
  answered?: number;
}

/** How to answer the n-th request (0-based): a status code, or 'hold' to never answer. */
export type Answer = (n: number, req: ReceivedAlert) => number | 'hold';

export interface AlertReceiver {
  url: string;
  received: ReceivedAlert[];
  answer: Answer;
  /** Answers every held request with `status`. */
  answerHeld(status?: number): void;
  close(): Promise<void>;
}

export async function startAlertReceiver(answer: Answer = () => 200, path = '/hook'): Promise<AlertReceiver> {
  const held: { res: http.ServerResponse; alert: ReceivedAlert }[] = [];
  const received: ReceivedAlert[] = [];
  const receiver: AlertReceiver = {
    url: '',
    received,
    answer,
    answerHeld(status = 200) {
      for (const h of held.splice(0)) {
        h.alert.answered = Date.now();
        if (!h.res.destroyed) h.res.writeHead(status).end('ok');
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: unknown = null;
      try {
        body = JSON.parse(raw);
      } catch {
        body = null;
      }
      const alert: ReceivedAlert = { path: req.url ?? '', headers: req.headers, raw, body };
      const n = received.push(alert) - 1;
      const how = receiver.answer(n, alert);
      if (how === 'hold') {
        held.push({ res, alert });
        return;
      }
      alert.answered = Date.now();
      res.writeHead(how).end(how < 300 ? 'ok' : 'no');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`;
  return receiver;
}
