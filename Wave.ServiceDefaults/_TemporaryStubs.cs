namespace Microsoft.Extensions.Hosting
{
    public static class TemporaryStateStubs
    {
        public static IHostApplicationBuilder AddWaveState(this IHostApplicationBuilder builder) => builder;
    }
}
