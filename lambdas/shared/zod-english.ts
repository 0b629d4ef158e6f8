/**
 * English messages for `zod/mini`, imported for its effect by every module that validates with it. The Lambda
 * tasks validate with `zod/mini` rather than zod's classic API: it tree-shakes to the few schemas a handler uses
 * (about 15 KB minified against zod's 85 KB at least), which keeps each bundle near the size and start-up time of
 * its SDK clients (`npm run bench`). Unlike the classic API, `zod/mini` loads no locale, and its issues would read
 * only "Invalid input".
 */
import { config } from 'zod/mini';
import en from 'zod/v4/locales/en.js';

config(en());
