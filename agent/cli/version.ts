/** The CLI's version (`appliance --version`). */
export const VERSION = '0.1.0';
