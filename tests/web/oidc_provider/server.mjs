// A real OpenID provider (panva/oidc-provider) for the console's single sign-on tests.
//
//   node server.mjs '{"clients": [{"client_id": ..., "client_secret": ..., "redirect_uris": [...]}],
//                     "tls": {"cert": "cert.pem", "key": "key.pem"}}'
//
// Listens on 127.0.0.1, on a free port, over https when given `tls`, and prints
// "listening http(s)://127.0.0.1:PORT" once ready.
// Signing in needs no form: the interaction signs in whoever the test named last with
// GET /test/next?user=NAME[&where=userinfo][&tamper=audience|expired]. `where=userinfo` keeps
// preferred_username out of the ID token (userinfo still has it); `tamper` re-signs the next
// ID token, with the provider's own key, for another audience or as long expired. An empty
// user makes the provider refuse the sign-in (access_denied).
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, SignJWT } from 'jose';
import Provider from 'oidc-provider';

const { clients, tls } = JSON.parse(process.argv[2]);
let next = { user: '', where: 'id_token', tamper: '' };

const { privateKey } = await generateKeyPair('RS256', { extractable: true });
const jwk = { ...(await exportJWK(privateKey)), kid: 'test-key', alg: 'RS256', use: 'sig' };

const server = tls
  ? createTlsServer({ cert: readFileSync(tls.cert), key: readFileSync(tls.key) })
  : createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `${tls ? 'https' : 'http'}://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: clients.map((c) => ({
    ...c,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  })),
  jwks: { keys: [jwk] },
  cookies: { keys: ['oidc-provider-test-cookie-key'] },
  claims: {
    openid: ['sub'],
    profile: ['preferred_username', 'name'],
    email: ['email', 'email_verified'],
  },
  conformIdTokenClaims: false, // the ID token carries the scopes' claims, as Entra ID's does
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims(use) {
        const claims = { sub: `subject-${id}`, name: id, email: `${id}@example.com`,
          email_verified: true };
        if (next.where !== 'userinfo' || use === 'userinfo') claims.preferred_username = id;
        return claims;
      },
    };
  },
});
provider.proxy = false;

// the next ID token, re-signed with the provider's key after a change the test asked for
provider.use(async (ctx, nextMiddleware) => {
  await nextMiddleware();
  if (ctx.path !== '/token' || ctx.status !== 200 || !next.tamper || !ctx.body?.id_token) return;
  const payload = decodeJwt(ctx.body.id_token);
  if (next.tamper === 'audience') payload.aud = 'other';
  if (next.tamper === 'expired') {
    payload.iat -= 7200;
    payload.exp = payload.iat + 600;
  }
  next.tamper = '';
  const header = decodeProtectedHeader(ctx.body.id_token);
  ctx.body = { ...ctx.body, id_token: await new SignJWT(payload).setProtectedHeader(header).sign(privateKey) };
});

async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  if (!next.user) {
    const result = { error: 'access_denied', error_description: 'the test said no' };
    return provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
  }
  const accountId = next.user;
  const grant = new provider.Grant({ accountId, clientId: details.params.client_id });
  grant.addOIDCScope(details.params.scope);
  const grantId = await grant.save();
  const result = { login: { accountId }, consent: { grantId } };
  return provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
}

const callback = provider.callback();
server.on('request', (req, res) => {
  const url = new URL(req.url, issuer);
  if (url.pathname === '/test/next') {
    next = {
      user: url.searchParams.get('user') ?? '',
      where: url.searchParams.get('where') ?? 'id_token',
      tamper: url.searchParams.get('tamper') ?? '',
    };
    res.writeHead(204).end();
  } else if (url.pathname.startsWith('/interaction/')) {
    interaction(req, res).catch((err) => {
      console.error(err);
      res.writeHead(500).end(String(err));
    });
  } else {
    callback(req, res);
  }
});
console.log(`listening ${issuer}`);
