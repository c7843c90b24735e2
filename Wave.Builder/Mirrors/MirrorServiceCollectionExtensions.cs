using Wave.Builder.Mirrors;
using Wave.Core.Mirrors;

namespace Microsoft.AspNetCore.Builder;

public static class MirrorServiceCollectionExtensions
{
    /// <summary>
    /// The builder's side of mirrors: the copier and the runner the build worker hands mirror jobs to, the embedded
    /// mode's recovery of unfinished copies, and the sweeper of copies no builder will finish.
    /// </summary>
    public static IHostApplicationBuilder AddWaveMirrorCopies(this IHostApplicationBuilder builder)
    {
        builder.AddWaveMirrorStore();
        builder.Services.AddOptions<MirrorOptions>().Bind(builder.Configuration.GetSection(MirrorOptions.Section))
            .Validate(options =>
            {
                options.Validate();
                return true;
            }).ValidateOnStart();
        builder.Services.AddSingleton<MirrorCopier>();
        builder.Services.AddSingleton<MirrorRunner>();
        builder.Services.AddHostedService<MirrorRecovery>();
        builder.Services.AddHostedService<StalledMirrorSweeper>();
        return builder;
    }
}
