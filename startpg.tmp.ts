import { startEmbedded } from '/work/main/src/db/embedded.ts';
const c = await startEmbedded({ dir: '/tmp/pgt', persistent: true, port: 55432 });
console.log(c.url());
