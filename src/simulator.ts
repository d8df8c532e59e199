/**
 * An in-memory Kustomer Chat Core SDK (web, v2) with a scripted agent and fault injection.
 *
 * `SimulatedKustomerCore` implements `KustomerCore` as described in
 * `shared/design/KUSTOMER_CORE.md`: callback style `(response, error)`, callbacks always
 * asynchronous, `init` required first, JWT `iat` rules, attachment and custom attribute limits,
 * events for all of the customer's conversations. Only web APIs are used (no Deno APIs), so the
 * module runs under `deno test` and in a browser bundle alike.
 *
 * One concern per module under `simulator/`: the SDK facade (`core.ts`), the server's records and
 * what each call does to them (`server.ts`), event and answer delivery with fixed or seeded latency
 * (`delivery.ts`, `network.ts`), fault injection (`faults.ts`), the scripted agent (`script.ts`),
 * input checks (`checks.ts`), test JWTs (`jwt.ts`) and the public types (`types.ts`).
 *
 * @module
 */

export * from "./simulator/types.ts";
export { makeTestJwt } from "./simulator/jwt.ts";
export { SimulatedKustomerCore } from "./simulator/core.ts";
