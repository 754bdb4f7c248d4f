// `npm run image:cached` (as root): the appliance image of the current sources, built into the
// cache when missing (devenv/appliance-image.ts); prints the path of its qcow2. CI runs it in the
// background while the other checks run, so that `npm run test:vm` finds the image built.
import { ensureImage } from './appliance-image.ts';

console.log(
  await ensureImage((line) => {
    process.stderr.write(`${line}\n`);
  }),
);
