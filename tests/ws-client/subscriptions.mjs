// Drives the server's subscriptions with the reference `graphql-ws` client, as an SPA
// would. Run by tests/api/subscriptions_client.rs, which prepares a market and passes it
// in MARKET (JSON); prints one JSON line of results and exits 0 when every check holds.
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const market = JSON.parse(process.env.MARKET);
const http = market.url;
const ws = `${http.replace(/^http/, 'ws')}/graphql`;
const checks = {};
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function client(token, onClosed) {
  return createClient({
    url: ws,
    webSocketImpl: WebSocket,
    lazy: false,
    retryAttempts: 0,
    connectionParams: token ? { Authorization: `Bearer ${token}` } : {},
    on: { closed: (event) => onClosed && onClosed(event.code) },
  });
}

async function gql(token, query, variables) {
  const response = await fetch(`${http}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

/** Subscribes; collects `next` payloads and the error that ended it, if any. */
function follow(c, query, variables) {
  const seen = { next: [], error: null, complete: false };
  const dispose = c.subscribe(
    { query, variables },
    {
      next: (value) => seen.next.push(value),
      error: (error) => {
        seen.error = error;
      },
      complete: () => {
        seen.complete = true;
      },
    },
  );
  return { seen, dispose };
}

async function until(predicate, ms = 10000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (predicate()) return true;
    await sleep(20);
  }
  return predicate();
}

const codeOf = (seen) => {
  if (seen.error) return (Array.isArray(seen.error) ? seen.error[0] : seen.error)?.extensions?.code;
  const last = seen.next[seen.next.length - 1];
  return last?.errors?.[0]?.extensions?.code;
};

const APPLY = `mutation($input: ApplyToProgramInput!) { applyToProgram(input: $input) { application { id } userErrors { code } } }`;

// 1. The vendor approves: the partner's subscription hears it.
{
  const partner = client(market.partnerToken);
  const mine = follow(partner, 'subscription { myApplicationUpdated { id status } }');
  await sleep(1000);
  await gql(market.ownerToken, 'mutation($a: ID!) { approveApplication(input: { applicationId: $a }) { userErrors { code } } }', {
    a: market.applicationId,
  });
  await until(() => mine.seen.next.length > 0);
  const update = mine.seen.next[0]?.data?.myApplicationUpdated;
  checks.partnerHearsTheApproval = update?.id === market.applicationId && update?.status === 'APPROVED';

  // 2. Another vendor's program: an error, and no events ever.
  const foreign = follow(partner, 'subscription($p: ID!) { applicationSubmitted(programId: $p) { id } }', {
    p: market.foreignProgramId,
  });
  await until(() => foreign.seen.error || foreign.seen.next.length > 0);
  checks.foreignProgramRefused = codeOf(foreign.seen) === 'NOT_FOUND';
  await gql(market.otherPartnerToken, APPLY, { input: market.foreignApply });
  await sleep(1000);
  checks.foreignProgramSendsNothing = foreign.seen.next.every((n) => n.errors);
  await partner.dispose();
}

// 3. A team member follows new applications until removed from the team.
{
  const member = client(market.memberToken);
  const submitted = follow(member, 'subscription($p: ID!) { applicationSubmitted(programId: $p) { id status } }', {
    p: market.programId,
  });
  await sleep(1000);
  await gql(market.otherPartnerToken, APPLY, { input: market.apply });
  await until(() => submitted.seen.next.length > 0);
  checks.memberHearsNewApplication = submitted.seen.next[0]?.data?.applicationSubmitted?.status === 'PENDING';
  await gql(market.ownerToken, 'mutation($m: ID!) { removeVendorMember(input: { memberId: $m }) { userErrors { code } } }', {
    m: market.memberId,
  });
  await gql(market.thirdPartnerToken, APPLY, { input: market.apply });
  await until(() => submitted.seen.complete || submitted.seen.error || submitted.seen.next.length > 1);
  const after = submitted.seen.next.slice(1);
  checks.removedMemberStopsReceiving =
    after.every((n) => !n.data?.applicationSubmitted) && codeOf(submitted.seen) === 'FORBIDDEN';
  await member.dispose();
}

// 4. A bad token: the socket closes with 4401.
{
  let code = null;
  const bad = client('not.a.token', (c) => {
    code = c;
  });
  follow(bad, 'subscription { myApplicationUpdated { id } }');
  await until(() => code !== null);
  checks.badTokenCloses4401 = code === 4401;
  await bad.dispose();
}

// 5. Twenty-five subscriptions on one connection: the first twenty run.
{
  const many = client(market.partnerToken);
  const all = [];
  for (let i = 0; i < 25; i++) all.push(follow(many, 'subscription { myEnrollmentUpdated { id status } }'));
  await until(() => all.filter((s) => s.seen.error).length >= 5, 3000);
  const refused = all.filter((s) => s.seen.error);
  checks.twentySubscriptionsPerConnection =
    refused.length === 5 && refused.every((s) => codeOf(s.seen) === 'LIMIT_EXCEEDED') && all.slice(0, 20).every((s) => !s.seen.error);
  await many.dispose();
}

const ok = Object.values(checks).every(Boolean);
console.log(JSON.stringify({ ok, checks }));
process.exit(ok ? 0 : 1);
