// `npm run image:cached` (as root): the appliance image of the current sources, built into the
// cache when missing (devenv/appliance-image.ts); prints the path of its qcow2. `npm test`
// (test/run.sh) runs it in the background while the other tests run, then boots the image.
import { ensureImage } from './appliance-image.ts';

console.log(
  await ensureImage((line) => {
    process.stderr.write(`${line}\n`);
  }),
);
