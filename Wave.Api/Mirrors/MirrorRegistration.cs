using Wave.Api.Mirrors;
using Wave.Core.Mirrors;

namespace Microsoft.AspNetCore.Builder;

public static class MirrorRegistration
{
    /// <summary>The Api's side of mirrors: the mirror store (in the build store's database) and the service that answers and queues them.</summary>
    public static IHostApplicationBuilder AddWaveMirrors(this IHostApplicationBuilder builder)
    {
        builder.AddWaveMirrorStore();
        builder.Services.AddOptions<MirrorOptions>().Bind(builder.Configuration.GetSection(MirrorOptions.Section))
            .Validate(options =>
            {
                options.Validate();
                return true;
            }).ValidateOnStart();
        builder.Services.AddSingleton<MirrorService>();
        return builder;
    }
}
