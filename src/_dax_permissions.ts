/**
 * Evaluated by dax.ts before npm dax: dax's dependencies read the environment as they load,
 * so without the permission the first error would be theirs, with their stack trace. `-A` is
 * what `daxIn` needs (it reads /proc), so that is what loading the entry asks for.
 *
 * @module
 */
import { assertPermissions } from "./_permissions.ts";

assertPermissions("load @nsjoin/nsjoin/dax", "all", true);
