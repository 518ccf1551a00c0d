// The peer: PostGraphile v5 with the amber preset over the tables our migrations create
// (schema public) and the benchmark's search functions (schema bench, see harness.py).
// Every column may be filtered and ordered by (see below). One process, production mode, no GraphiQL, no watch; the pg pool as PostGraphile sizes it.
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { makePgService } from "postgraphile/adaptors/pg";

/** @type {GraphileConfig.Preset} */
const preset = {
  extends: [PostGraphileAmberPreset],
  // By default v5 lets clients filter and order only by indexed columns; the listing
  // filters on visibility and orders rules by position, as ours does.
  disablePlugins: ["PgIndexBehaviorsPlugin"],
  pgServices: [
    makePgService({
      connectionString: process.env.DATABASE_URL,
      schemas: ["public", "bench"],
    }),
  ],
  grafserv: {
    host: "127.0.0.1",
    port: Number(process.env.PORT ?? 5678),
    graphiql: false,
    watch: false,
  },
  grafast: { explain: false },
};

export default preset;
