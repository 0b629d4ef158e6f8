/**
 * The SSM parameter paths' defaults, apart from the task runtime, so that infra reads them without loading the
 * telemetry libraries.
 */

/** Default of the stack's `amiParameterPrefix`: apart from the X.509 parameters' path, so one cannot overwrite the other. */
export const DEFAULT_AMI_PARAMETER_PREFIX = '/ami-builder/ami-ids/';
/** Default of the stack's `x509ParameterPrefix`. */
export const DEFAULT_X509_PARAMETER_PREFIX = '/ami-builder/x509/';
